package meta

import (
	"slices"
	"time"
)

// Event types a webhook endpoint subscribes to.
const (
	WebhookPush      = "push"          // manifest.push
	WebhookPull      = "pull"          // manifest.pull
	WebhookDelete    = "delete"        // manifest.delete
	WebhookTagDelete = "tag_delete"    // tag.delete
	WebhookTagCreate = "tag_create"    // manifest.push with a tag
	WebhookQuota     = "quota_warning" // quota.warning
	WebhookAll       = "all"           // every type, present and future
)

// Payload formats of a webhook endpoint.
const (
	WebhookFormatRegistry    = "registry"    // the registry:2 notification envelope
	WebhookFormatCloudEvents = "cloudevents" // CloudEvents 1.0, structured JSON
)

// EventQuotaWarning is the outbox kind written when a push takes a
// project's usage past QuotaWarnPercent of its quota.
const EventQuotaWarning = "quota.warning"

// QuotaWarnPercent is the share of its quota past which a project's
// usage is announced.
const QuotaWarnPercent = 80

// EventPull is the outbox kind of a pull, written in batches by the audit
// recorder (a crash may lose the last instants of them).
const EventPull = "manifest.pull"

// webhookTypeOfKind maps the outbox kinds to the event types endpoints
// choose; kinds not listed reach only "all" endpoints.
var webhookTypeOfKind = map[string]string{
	"manifest.push":   WebhookPush,
	EventPull:         WebhookPull,
	"manifest.delete": WebhookDelete,
	"tag.delete":      WebhookTagDelete,
	EventQuotaWarning: WebhookQuota,
}

// WebhookEventTypes are the types an endpoint may choose, "all" last.
var WebhookEventTypes = []string{WebhookPush, WebhookPull, WebhookDelete, WebhookTagCreate, WebhookTagDelete, WebhookQuota, WebhookAll}

// Webhook is one notification endpoint: a project's (Project set) or a
// global one (Project "").
type Webhook struct {
	ID        int64 // assigned by the store
	Project   string
	URL       string
	Secret    []byte   // sealed by the caller (secretbox); never shown again
	Events    []string // WebhookPush, ... or WebhookAll
	Format    string   // WebhookFormatRegistry or WebhookFormatCloudEvents
	Enabled   bool
	CreatedAt time.Time
	// Cursor is the ID of the last outbox event delivered (or skipped by
	// the filter); a new endpoint starts at the newest event.
	Cursor int64
}

// Wants reports whether the endpoint subscribes to an outbox event: its
// type is chosen (a push that tags counts as tag_create too), and the
// repository is in the endpoint's project (its first path component) or
// the endpoint is global.
func (w Webhook) Wants(e Event) bool {
	if w.Project != "" {
		if ProjectOf(e.Repo) != w.Project {
			return false
		}
	}
	if e.Kind == "manifest.push" && e.Tag != "" && slices.Contains(w.Events, WebhookTagCreate) {
		return true
	}
	return w.WantsType(e.Kind)
}

// WantsType reports whether the endpoint subscribes to kind, wherever.
func (w Webhook) WantsType(kind string) bool {
	if slices.Contains(w.Events, WebhookAll) {
		return true
	}
	t, ok := webhookTypeOfKind[kind]
	return ok && slices.Contains(w.Events, t)
}

// WebhookDelivery is one attempt at delivering events FirstEvent to
// LastEvent (Events of them passed the filter) to an endpoint.
type WebhookDelivery struct {
	ID         int64 // assigned by the store
	Webhook    int64
	FirstEvent int64
	LastEvent  int64
	Events     int
	Attempt    int // 1 for the first try of these events
	At         time.Time
	Status     int    // the HTTP status, 0 when none came back
	Error      string // "" on success
	Duration   time.Duration
}

// WebhookDeliveriesKept bounds the delivery log of each endpoint: older
// attempts are pruned as new ones are recorded.
const WebhookDeliveriesKept = 1000

type WebhookReader interface {
	// Webhook returns the endpoint with the id, or ErrNotFound.
	Webhook(id int64) (Webhook, error)
	// ListWebhooks returns project's endpoints ("" = the global ones) in
	// ID order.
	ListWebhooks(project string) ([]Webhook, error)
	// AllWebhooks returns every endpoint in ID order.
	AllWebhooks() ([]Webhook, error)
	// WebhookDeliveries returns up to n attempts of the endpoint, newest
	// first, with ID < before (0 = from the newest). n <= 0: no limit.
	WebhookDeliveries(webhook, before int64, n int) ([]WebhookDelivery, error)
}

type WebhookWriter interface {
	// AddWebhook stores w with its cursor at the newest outbox event and
	// returns its ID; ErrNotFound when w.Project does not exist.
	AddWebhook(w Webhook) (int64, error)
	// SetWebhookEnabled enables or disables an endpoint; ErrNotFound if
	// there is none.
	SetWebhookEnabled(id int64, enabled bool) error
	// DeleteWebhook removes an endpoint and its delivery log; ErrNotFound
	// if there is none.
	DeleteWebhook(id int64) error
	// AdvanceWebhookCursor moves the endpoint's cursor forward to the
	// event id (never back); ErrNotFound if there is no endpoint.
	AdvanceWebhookCursor(id, event int64) error
	// RecordWebhookDelivery appends d to the endpoint's log, keeping the
	// newest WebhookDeliveriesKept.
	RecordWebhookDelivery(d WebhookDelivery) error
}
