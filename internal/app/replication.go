package app

import (
	"context"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/replicate"
)

// replicationActor is the name replication's writes here are audited
// under (a token of a system admin that no user account backs).
const replicationActor = "replication"

// ReplicationService returns a replication service over the App's stores:
// policies and runs for the management API, the queue for
// replicationLoop. Each call makes a new one (they share nothing but the
// stores).
func (a *App) ReplicationService() *replicate.Service {
	local := replicate.Local{Handler: a.handler}
	if a.access != nil {
		local.Auth = func() (authn.Authenticator, error) {
			tok, err := a.access.Tokens.Issue(auth.Identity{Kind: auth.KindUser, Name: replicationActor, Admin: true}, nil, time.Now())
			if err != nil {
				return nil, err
			}
			return authn.FromConfig(authn.AuthConfig{RegistryToken: tok}), nil
		}
	}
	c := a.cfg.Replication
	return replicate.New(replicate.Options{
		Store: a.meta, Secrets: a.box, Log: a.log, Local: local,
		Workers: c.Workers, Poll: c.PollInterval, RetryMin: c.RetryMin, RetryMax: c.RetryMax,
		MaxAttempts: c.MaxAttempts, History: c.History, UserAgent: "berth (replication)",
		Events: eventsAppended(a.meta), Queued: &a.replicationQueued,
	})
}

// eventsAppended is the metadata store's wake-up on committed outbox
// events, when it has one (nil otherwise: the readers poll).
func eventsAppended(md meta.Store) func() <-chan struct{} {
	if n, ok := md.(interface{ EventsAppended() <-chan struct{} }); ok {
		return n.EventsAppended
	}
	return nil
}

// replicationLoop runs the replication queue (and, on one node at a time,
// the event and cron triggers) until ctx ends.
func (a *App) replicationLoop(ctx context.Context) {
	if !a.cfg.Replication.Enabled {
		return
	}
	a.ReplicationService().Run(ctx)
}
