package app

import (
	"context"
	"net/url"

	"github.com/berth-registry/berth/internal/webhook"
)

// webhookLoop delivers the outbox to the webhook endpoints kept in the
// metadata store (each on one node of a cluster at a time) until ctx
// ends.
func (a *App) webhookLoop(ctx context.Context) {
	origin := webhook.Origin{URL: a.cfg.HTTP.ExternalURL}
	if u, err := url.Parse(a.cfg.HTTP.ExternalURL); err == nil && u.Host != "" {
		origin.Addr = u.Host
	}
	webhook.New(webhook.Options{Store: a.meta, Secrets: a.box, Log: a.log, Origin: origin, Events: eventsAppended(a.meta)}).Run(ctx)
}
