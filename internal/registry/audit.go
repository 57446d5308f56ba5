package registry

import (
	"context"

	"github.com/berth-registry/berth/internal/actor"
	"github.com/berth-registry/berth/internal/meta"
)

// auditActions names each outbox event kind in the audit log.
var auditActions = map[string]string{
	"manifest.push":        "push",
	"manifest.delete":      "delete",
	"tag.delete":           "tag.delete",
	"blob.delete":          "blob.delete",
	"blob.quarantine":      "blob.quarantine",
	"blob.restore":         "blob.restore",
	meta.EventQuotaWarning: "quota.warning",
}

// record writes a change's outbox event and its audit entry, with the
// caller from ctx, in the change's own transaction: neither can be lost
// once the change is acknowledged.
func (s *Service) record(ctx context.Context, tx meta.Tx, ev meta.Event) error {
	a := actor.From(ctx)
	ev.Actor, ev.Addr = a.Name, a.Addr
	if err := tx.AppendEvent(ev); err != nil {
		return err
	}
	return tx.AppendAudit(meta.AuditEvent{
		At: ev.CreatedAt, Actor: a.Name, ActorKind: a.Kind, Addr: a.Addr, Action: auditActions[ev.Kind],
		Repo: ev.Repo, Digest: ev.Digest.String(), Tag: ev.Tag, Detail: ev.Detail,
	})
}

// gcActor is who garbage collection's removals are recorded under.
var gcActor = actor.Actor{Name: "gc", Kind: "system"}

func gcContext(ctx context.Context) context.Context { return actor.With(ctx, gcActor) }
