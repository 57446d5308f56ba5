package httpapi

import (
	"net/http"

	"github.com/berth-registry/berth/internal/actor"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// AuditSink takes the audit events of pulls and logins, off the request
// path (audit.Recorder).
type AuditSink interface {
	Record(e meta.AuditEvent)
}

// WithAudit records pulls and logins into sink.
func (a *API) WithAudit(sink AuditSink) *API {
	a.audit = sink
	return a
}

// recordPull records a manifest GET: what berth counts as a pull.
func (a *API) recordPull(r *http.Request, repo, digest, tag string) {
	if a.audit == nil {
		return
	}
	ac := actor.From(r.Context())
	a.audit.Record(meta.AuditEvent{Actor: ac.Name, ActorKind: ac.Kind, Addr: ac.Addr, Action: meta.ActionPull, Repo: repo, Digest: digest, Tag: tag})
}

// recordLogin records a login, failed or not, by the name the client gave.
func (a *API) recordLogin(r *http.Request, action, name, detail string) {
	a.countLoginFailure(action)
	if a.audit == nil {
		return
	}
	kind := auth.KindUser
	if auth.IsRobotName(name) {
		kind = auth.KindRobot
	}
	a.audit.Record(meta.AuditEvent{Actor: name, ActorKind: kind, Addr: ClientAddr(r).String(), Action: action, Detail: detail})
}
