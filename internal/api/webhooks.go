package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// webhookOperations are the notification endpoints' routes: the global
// ones (system admins) and each project's (its admins).
var webhookOperations = []operation{
	{"GET", "/webhooks", (*API).listWebhooks, "List the global webhook endpoints (secrets are never shown)", "system admins", nil, []webhookJSON{}, 200},
	{"POST", "/webhooks", (*API).addWebhook, "Add a global webhook endpoint, which gets every repository's events from now on; events: push, pull, delete, tag_create, tag_delete, quota_warning or all; format: registry (default) or cloudevents", "system admins", webhookRequest{}, webhookJSON{}, 201},
	{"PATCH", "/webhooks/{id}", (*API).updateWebhook, "Enable or disable a global webhook endpoint (disabled, it keeps its place and catches up when enabled)", "system admins", webhookPatch{}, webhookJSON{}, 200},
	{"DELETE", "/webhooks/{id}", (*API).deleteWebhook, "Remove a global webhook endpoint", "system admins", nil, nil, 204},
	{"GET", "/webhooks/{id}/deliveries", (*API).listWebhookDeliveries, "A global endpoint's delivery attempts, newest first (?limit= ?before=)", "system admins", nil, []webhookDeliveryJSON{}, 200},
	{"GET", "/projects/{project}/webhooks", (*API).listWebhooks, "List a project's webhook endpoints (secrets are never shown)", "its admins", nil, []webhookJSON{}, 200},
	{"POST", "/projects/{project}/webhooks", (*API).addWebhook, "Add a webhook endpoint for the project's repositories; events: push, pull, delete, tag_create, tag_delete, quota_warning or all; format: registry (default) or cloudevents", "its admins", webhookRequest{}, webhookJSON{}, 201},
	{"PATCH", "/projects/{project}/webhooks/{id}", (*API).updateWebhook, "Enable or disable a project's webhook endpoint", "its admins", webhookPatch{}, webhookJSON{}, 200},
	{"DELETE", "/projects/{project}/webhooks/{id}", (*API).deleteWebhook, "Remove a project's webhook endpoint", "its admins", nil, nil, 204},
	{"GET", "/projects/{project}/webhooks/{id}/deliveries", (*API).listWebhookDeliveries, "A project endpoint's delivery attempts, newest first (?limit= ?before=)", "its admins", nil, []webhookDeliveryJSON{}, 200},
}

type webhookRequest struct {
	URL    string   `json:"url"`
	Secret string   `json:"secret"`
	Events []string `json:"events"`
	Format string   `json:"format,omitempty"`
}

type webhookPatch struct {
	Enabled *bool `json:"enabled"`
}

type webhookJSON struct {
	ID        int64     `json:"id"`
	Project   string    `json:"project,omitempty"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Format    string    `json:"format"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
	// Cursor is the last outbox event delivered (or skipped).
	Cursor int64 `json:"cursor"`
}

type webhookDeliveryJSON struct {
	ID         int64     `json:"id"`
	FirstEvent int64     `json:"first_event"`
	LastEvent  int64     `json:"last_event"`
	Events     int       `json:"events"`
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	Status     int       `json:"status"`
	Error      string    `json:"error,omitempty"`
	Seconds    float64   `json:"seconds"`
}

func webhookOut(w meta.Webhook) webhookJSON {
	events := w.Events
	if events == nil {
		events = []string{}
	}
	return webhookJSON{ID: w.ID, Project: w.Project, URL: w.URL, Events: events, Format: w.Format, Enabled: w.Enabled,
		CreatedAt: w.CreatedAt, Cursor: w.Cursor}
}

func webhookID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, invalidf("webhook id %q is not a number", r.PathValue("id"))
	}
	return id, nil
}

func (x *API) listWebhooks(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	ws, err := x.auth.ListWebhooks(ctx, actor, r.PathValue("project"))
	out := make([]webhookJSON, 0, len(ws))
	for _, w := range ws {
		out = append(out, webhookOut(w))
	}
	return http.StatusOK, out, err
}

func (x *API) addWebhook(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	var in webhookRequest
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	w, err := x.auth.AddWebhook(ctx, actor, auth.WebhookSpec{Project: r.PathValue("project"), URL: in.URL, Secret: in.Secret,
		Events: in.Events, Format: in.Format})
	return http.StatusCreated, webhookOut(w), err
}

func (x *API) updateWebhook(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	id, err := webhookID(r)
	if err != nil {
		return 0, nil, err
	}
	var in webhookPatch
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	if in.Enabled == nil {
		return 0, nil, invalidf("nothing to change: give enabled")
	}
	w, err := x.auth.SetWebhookEnabled(ctx, actor, r.PathValue("project"), id, *in.Enabled)
	return http.StatusOK, webhookOut(w), err
}

func (x *API) deleteWebhook(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	id, err := webhookID(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, x.auth.DeleteWebhook(ctx, actor, r.PathValue("project"), id)
}

func (x *API) listWebhookDeliveries(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	id, err := webhookID(r)
	if err != nil {
		return 0, nil, err
	}
	limit, before := 100, int64(0)
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > meta.WebhookDeliveriesKept {
			return 0, nil, invalidf("limit %q: want 1 to %d", v, meta.WebhookDeliveriesKept)
		}
	}
	if v := r.URL.Query().Get("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil {
			return 0, nil, invalidf("before %q is not a number", v)
		}
	}
	ds, err := x.auth.WebhookDeliveries(ctx, actor, r.PathValue("project"), id, before, limit)
	out := make([]webhookDeliveryJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, webhookDeliveryJSON{ID: d.ID, FirstEvent: d.FirstEvent, LastEvent: d.LastEvent, Events: d.Events,
			Attempt: d.Attempt, At: d.At, Status: d.Status, Error: d.Error, Seconds: d.Duration.Seconds()})
	}
	return http.StatusOK, out, err
}
