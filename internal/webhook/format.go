package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// Content types of the two payload formats.
const (
	ContentTypeRegistry    = "application/vnd.docker.distribution.events.v1+json"
	ContentTypeCloudEvents = "application/cloudevents+json"
)

// Request headers.
const (
	HeaderSignature = "X-Berth-Signature"
	HeaderEvent     = "X-Berth-Event"
	HeaderDelivery  = "X-Berth-Delivery"
)

// Sign returns the signature header value of body: "sha256=" and the hex
// HMAC-SHA256 of body keyed with secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header is body's valid signature with secret
// (what a receiver does).
func Verify(secret, body []byte, header string) bool {
	return hmac.Equal([]byte(header), []byte(Sign(secret, body)))
}

// Origin names the berth that sends: its external URL ("" unknown) and
// an instance id.
type Origin struct {
	URL        string // like https://registry.example.com
	Addr       string // host (and port) for source.addr
	InstanceID string
}

// registryAction is the registry:2 action of each outbox kind.
var registryAction = map[string]string{
	"manifest.push":        "push",
	meta.EventPull:         "pull",
	"manifest.delete":      "delete",
	"tag.delete":           "delete",
	"blob.delete":          "delete",
	meta.EventQuotaWarning: "quota_warning",
}

// cloudEventType is the CloudEvents type of each outbox kind (others:
// "io.berth." and the kind).
var cloudEventType = map[string]string{
	"manifest.push":        "io.berth.artifact.pushed",
	meta.EventPull:         "io.berth.artifact.pulled",
	"manifest.delete":      "io.berth.artifact.deleted",
	"tag.delete":           "io.berth.tag.deleted",
	"blob.delete":          "io.berth.blob.deleted",
	meta.EventQuotaWarning: "io.berth.quota.warning",
}

// EventType is the CloudEvents type of an outbox kind; X-Berth-Event
// carries it in both formats.
func EventType(kind string) string {
	if t, ok := cloudEventType[kind]; ok {
		return t
	}
	return "io.berth." + kind
}

// Registry envelope (the registry:2 notification format).
type (
	registryEnvelope struct {
		Events []registryEvent `json:"events"`
	}
	registryEvent struct {
		ID        string          `json:"id"`
		Timestamp time.Time       `json:"timestamp"`
		Action    string          `json:"action"`
		Target    registryTarget  `json:"target"`
		Request   registryRequest `json:"request"`
		Actor     registryActor   `json:"actor"`
		Source    registrySource  `json:"source"`
		Detail    string          `json:"detail,omitempty"` // berth's: what a quota warning says
	}
	registryTarget struct {
		MediaType  string `json:"mediaType,omitempty"`
		Size       int64  `json:"size,omitempty"`
		Digest     string `json:"digest,omitempty"`
		Length     int64  `json:"length,omitempty"`
		Repository string `json:"repository"`
		URL        string `json:"url,omitempty"`
		Tag        string `json:"tag,omitempty"`
	}
	registryRequest struct {
		ID     string `json:"id,omitempty"`
		Addr   string `json:"addr,omitempty"`
		Host   string `json:"host,omitempty"`
		Method string `json:"method,omitempty"`
	}
	registryActor struct {
		Name string `json:"name,omitempty"`
	}
	registrySource struct {
		Addr       string `json:"addr,omitempty"`
		InstanceID string `json:"instanceID,omitempty"`
	}
)

// requestMethod is the HTTP method of the request that caused a kind.
var requestMethod = map[string]string{
	"manifest.push":   "PUT",
	meta.EventPull:    "GET",
	"manifest.delete": "DELETE",
	"tag.delete":      "DELETE",
	"blob.delete":     "DELETE",
}

// manifestURL is where the event's manifest is served, "" when berth's
// external URL or the digest is unknown.
func (o Origin) manifestURL(e meta.Event) string {
	if o.URL == "" || e.Digest == "" {
		return ""
	}
	kind := "manifests"
	if e.Kind == "blob.delete" {
		kind = "blobs"
	}
	return strings.TrimSuffix(o.URL, "/") + "/v2/" + e.Repo + "/" + kind + "/" + e.Digest.String()
}

// RegistryBody is the registry:2 envelope of events.
func RegistryBody(o Origin, events []meta.Event) ([]byte, error) {
	env := registryEnvelope{Events: make([]registryEvent, 0, len(events))}
	for _, e := range events {
		action, ok := registryAction[e.Kind]
		if !ok {
			action = e.Kind
		}
		env.Events = append(env.Events, registryEvent{
			ID:        fmt.Sprint(e.ID),
			Timestamp: e.CreatedAt.UTC(),
			Action:    action,
			Target: registryTarget{
				MediaType: e.MediaType, Size: e.Size, Length: e.Size, Digest: e.Digest.String(),
				Repository: e.Repo, URL: o.manifestURL(e), Tag: e.Tag,
			},
			Request: registryRequest{Addr: e.Addr, Host: o.Addr, Method: requestMethod[e.Kind]},
			Actor:   registryActor{Name: e.Actor},
			Detail:  e.Detail,
			Source:  registrySource{Addr: o.Addr, InstanceID: o.InstanceID},
		})
	}
	return json.Marshal(env)
}

// CloudEvents 1.0, structured mode.
type (
	cloudEvent struct {
		SpecVersion     string         `json:"specversion"`
		ID              string         `json:"id"`
		Source          string         `json:"source"`
		Type            string         `json:"type"`
		Time            time.Time      `json:"time"`
		Subject         string         `json:"subject,omitempty"`
		DataContentType string         `json:"datacontenttype"`
		Data            cloudEventData `json:"data"`
	}
	cloudEventData struct {
		Repository string `json:"repository"`
		Digest     string `json:"digest,omitempty"`
		Tag        string `json:"tag,omitempty"`
		MediaType  string `json:"mediaType,omitempty"`
		Size       int64  `json:"size,omitempty"`
		URL        string `json:"url,omitempty"`
		Actor      string `json:"actor,omitempty"`
		Detail     string `json:"detail,omitempty"`
	}
)

// cloudEventSource is the source attribute: berth's external URL, or
// "berth" when it has none (a URI reference either way).
func (o Origin) cloudEventSource() string {
	if o.URL != "" {
		return o.URL
	}
	return "berth"
}

// CloudEventBody is one event as a CloudEvent (structured JSON); its id
// is the outbox event id and the endpoint's, so that it is stable across
// retries and unique per endpoint.
func CloudEventBody(o Origin, endpoint int64, e meta.Event) ([]byte, error) {
	subject := e.Repo
	if e.Tag != "" {
		subject += ":" + e.Tag
	} else if e.Digest != "" {
		subject += "@" + e.Digest.String()
	}
	return json.Marshal(cloudEvent{
		SpecVersion:     "1.0",
		ID:              fmt.Sprintf("%d-%d", e.ID, endpoint),
		Source:          o.cloudEventSource(),
		Type:            EventType(e.Kind),
		Time:            e.CreatedAt.UTC(),
		Subject:         subject,
		DataContentType: "application/json",
		Data: cloudEventData{Repository: e.Repo, Digest: e.Digest.String(), Tag: e.Tag, MediaType: e.MediaType,
			Size: e.Size, URL: o.manifestURL(e), Actor: e.Actor, Detail: e.Detail},
	})
}

// batchMax is how many events one request carries in each format.
func batchMax(format string, registryMax int) int {
	if format == meta.WebhookFormatRegistry {
		return registryMax
	}
	return 1
}

// body renders a batch in the endpoint's format; it returns the body and
// its content type.
func body(o Origin, w meta.Webhook, events []meta.Event) ([]byte, string, error) {
	switch w.Format {
	case meta.WebhookFormatRegistry:
		b, err := RegistryBody(o, events)
		return b, ContentTypeRegistry, err
	case meta.WebhookFormatCloudEvents:
		if len(events) != 1 {
			return nil, "", fmt.Errorf("webhook: %d events in one CloudEvent", len(events))
		}
		b, err := CloudEventBody(o, w.ID, events[0])
		return b, ContentTypeCloudEvents, err
	}
	return nil, "", fmt.Errorf("webhook: unknown format %q", w.Format)
}
