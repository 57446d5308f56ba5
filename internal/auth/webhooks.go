package auth

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// WebhookSpec is a new notification endpoint: a project's (Project set;
// its admins) or a global one (system admins).
type WebhookSpec struct {
	Project string
	URL     string
	Secret  string   // signs the requests; kept sealed, never shown again
	Events  []string // meta.WebhookPush, ... or meta.WebhookAll
	Format  string   // meta.WebhookFormatRegistry (default) or meta.WebhookFormatCloudEvents
}

// asWebhookAdmin runs fn in a transaction when actor may manage the
// endpoints of project ("" = the global ones: system admins).
func (s *Service) asWebhookAdmin(ctx context.Context, actor Identity, project string, fn func(tx meta.Tx) error) error {
	if project != "" {
		return s.asProjectAdmin(ctx, actor, project, fn)
	}
	if err := s.requireAdmin(actor); err != nil {
		return err
	}
	return s.store.Update(ctx, fn)
}

// ListWebhooks lists the endpoints of project ("" = the global ones).
// Their secrets are not returned.
func (s *Service) ListWebhooks(ctx context.Context, actor Identity, project string) ([]meta.Webhook, error) {
	var out []meta.Webhook
	err := s.asWebhookAdmin(ctx, actor, project, func(tx meta.Tx) error {
		var err error
		out, err = tx.ListWebhooks(project)
		return err
	})
	for i := range out {
		out[i].Secret = nil
	}
	return out, err
}

// AddWebhook adds an enabled endpoint; it receives the events committed
// from now on. The secret is sealed with the secrets key when one is
// configured.
func (s *Service) AddWebhook(ctx context.Context, actor Identity, spec WebhookSpec) (meta.Webhook, error) {
	if spec.Format == "" {
		spec.Format = meta.WebhookFormatRegistry
	}
	if err := checkWebhook(spec); err != nil {
		return meta.Webhook{}, err
	}
	secret := []byte(spec.Secret)
	if s.opts.Secrets != nil {
		var err error
		if secret, err = s.opts.Secrets.Seal(secret); err != nil {
			return meta.Webhook{}, err
		}
	}
	w := meta.Webhook{Project: spec.Project, URL: spec.URL, Secret: secret, Events: slices.Compact(slices.Sorted(slices.Values(spec.Events))),
		Format: spec.Format, Enabled: true, CreatedAt: time.Now()}
	err := s.asWebhookAdmin(ctx, actor, spec.Project, func(tx meta.Tx) error {
		var err error
		if w.ID, err = tx.AddWebhook(w); err != nil {
			return err
		}
		stored, err := tx.Webhook(w.ID)
		if err != nil {
			return err
		}
		w.Cursor = stored.Cursor
		return auditIn(ctx, tx, "webhook.add", spec.Project, fmt.Sprintf("webhook %d: %s %s %s", w.ID, w.URL, strings.Join(w.Events, ","), w.Format))
	})
	if err != nil {
		return meta.Webhook{}, err
	}
	w.Secret = nil
	return w, nil
}

// onWebhook runs fn on endpoint id of project (meta.ErrNotFound when it
// belongs elsewhere).
func (s *Service) onWebhook(ctx context.Context, actor Identity, project string, id int64, fn func(meta.Tx, meta.Webhook) error) error {
	return s.asWebhookAdmin(ctx, actor, project, func(tx meta.Tx) error {
		w, err := tx.Webhook(id)
		if err != nil {
			return err
		}
		if w.Project != project {
			return fmt.Errorf("webhook %d: %w", id, meta.ErrNotFound)
		}
		return fn(tx, w)
	})
}

// SetWebhookEnabled enables or disables an endpoint; a disabled one keeps
// its place in the outbox, and delivers what it missed once enabled.
func (s *Service) SetWebhookEnabled(ctx context.Context, actor Identity, project string, id int64, enabled bool) (meta.Webhook, error) {
	var out meta.Webhook
	err := s.onWebhook(ctx, actor, project, id, func(tx meta.Tx, w meta.Webhook) error {
		if err := tx.SetWebhookEnabled(id, enabled); err != nil {
			return err
		}
		w.Enabled, w.Secret, out = enabled, nil, w
		action := "webhook.disable"
		if enabled {
			action = "webhook.enable"
		}
		return auditIn(ctx, tx, action, project, fmt.Sprintf("webhook %d", id))
	})
	return out, err
}

// DeleteWebhook removes an endpoint and its delivery log.
func (s *Service) DeleteWebhook(ctx context.Context, actor Identity, project string, id int64) error {
	return s.onWebhook(ctx, actor, project, id, func(tx meta.Tx, _ meta.Webhook) error {
		if err := tx.DeleteWebhook(id); err != nil {
			return err
		}
		return auditIn(ctx, tx, "webhook.delete", project, fmt.Sprintf("webhook %d", id))
	})
}

// WebhookDeliveries pages through an endpoint's delivery log, newest
// first (before: an attempt id, 0 = from the newest).
func (s *Service) WebhookDeliveries(ctx context.Context, actor Identity, project string, id, before int64, n int) ([]meta.WebhookDelivery, error) {
	var out []meta.WebhookDelivery
	err := s.onWebhook(ctx, actor, project, id, func(tx meta.Tx, _ meta.Webhook) error {
		var err error
		out, err = tx.WebhookDeliveries(id, before, n)
		return err
	})
	return out, err
}

func checkWebhook(spec WebhookSpec) error {
	u, err := url.Parse(spec.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("webhook url %q: want an http:// or https:// URL", spec.URL)
	}
	if spec.Secret == "" {
		return invalid("a webhook needs a secret (its requests are signed with it)")
	}
	if len(spec.Events) == 0 {
		return invalid("a webhook needs event types: some of %s", strings.Join(meta.WebhookEventTypes, ", "))
	}
	for _, e := range spec.Events {
		if !slices.Contains(meta.WebhookEventTypes, e) {
			return invalid("event type %q: want %s", e, strings.Join(meta.WebhookEventTypes, ", "))
		}
	}
	if spec.Format != meta.WebhookFormatRegistry && spec.Format != meta.WebhookFormatCloudEvents {
		return invalid("format %q: want %s or %s", spec.Format, meta.WebhookFormatRegistry, meta.WebhookFormatCloudEvents)
	}
	return nil
}
