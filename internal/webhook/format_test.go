package webhook

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

var (
	at     = time.Date(2024, 5, 6, 7, 8, 9, 123000000, time.UTC)
	d1     = digest.FromString("one")
	origin = Origin{URL: "https://reg.example.com", Addr: "reg.example.com", InstanceID: "i-1"}
)

func TestRegistryBody(t *testing.T) {
	evs := []meta.Event{
		{ID: 7, Kind: "manifest.push", Repo: "team/app", Digest: d1, Tag: "v1", MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 321, CreatedAt: at, Actor: "alice", Addr: "192.0.2.7"},
		{ID: 9, Kind: meta.EventPull, Repo: "team/app", Digest: d1, CreatedAt: at},
		{ID: 11, Kind: "tag.delete", Repo: "team/app", Tag: "old", CreatedAt: at},
		{ID: 12, Kind: meta.EventQuotaWarning, Repo: "team/app", Size: 900, Detail: "project team uses 900 B of its 1000 B quota (90%)", CreatedAt: at},
	}
	b, err := RegistryBody(origin, evs)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string][]map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{{
		"id": "7", "timestamp": "2024-05-06T07:08:09.123Z", "action": "push",
		"target": map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 321.0, "length": 321.0,
			"digest": d1.String(), "repository": "team/app", "tag": "v1",
			"url": "https://reg.example.com/v2/team/app/manifests/" + d1.String()},
		"request": map[string]any{"addr": "192.0.2.7", "host": "reg.example.com", "method": "PUT"},
		"actor":   map[string]any{"name": "alice"},
		"source":  map[string]any{"addr": "reg.example.com", "instanceID": "i-1"},
	}, {
		"id": "9", "timestamp": "2024-05-06T07:08:09.123Z", "action": "pull",
		"target": map[string]any{"digest": d1.String(), "repository": "team/app",
			"url": "https://reg.example.com/v2/team/app/manifests/" + d1.String()},
		"request": map[string]any{"host": "reg.example.com", "method": "GET"},
		"actor":   map[string]any{},
		"source":  map[string]any{"addr": "reg.example.com", "instanceID": "i-1"},
	}, {
		"id": "11", "timestamp": "2024-05-06T07:08:09.123Z", "action": "delete",
		"target":  map[string]any{"repository": "team/app", "tag": "old"},
		"request": map[string]any{"host": "reg.example.com", "method": "DELETE"},
		"actor":   map[string]any{},
		"source":  map[string]any{"addr": "reg.example.com", "instanceID": "i-1"},
	}, {
		"id": "12", "timestamp": "2024-05-06T07:08:09.123Z", "action": "quota_warning",
		"target":  map[string]any{"repository": "team/app", "size": 900.0, "length": 900.0},
		"request": map[string]any{"host": "reg.example.com"},
		"actor":   map[string]any{},
		"source":  map[string]any{"addr": "reg.example.com", "instanceID": "i-1"},
		"detail":  "project team uses 900 B of its 1000 B quota (90%)",
	}}
	if len(got) != 1 || !reflect.DeepEqual(got["events"], want) {
		t.Errorf("envelope =\n%s\nwant events %v", b, want)
	}
}

func TestCloudEventBody(t *testing.T) {
	tests := []struct {
		name   string
		origin Origin
		e      meta.Event
		want   map[string]any
	}{
		{"push by tag", origin,
			meta.Event{ID: 7, Kind: "manifest.push", Repo: "team/app", Digest: d1, Tag: "v1", MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 321, CreatedAt: at, Actor: "alice"},
			map[string]any{"specversion": "1.0", "id": "7-3", "source": "https://reg.example.com", "type": "io.berth.artifact.pushed",
				"time": "2024-05-06T07:08:09.123Z", "subject": "team/app:v1", "datacontenttype": "application/json",
				"data": map[string]any{"repository": "team/app", "digest": d1.String(), "tag": "v1",
					"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 321.0,
					"url": "https://reg.example.com/v2/team/app/manifests/" + d1.String(), "actor": "alice"}}},
		{"delete by digest, no external URL", Origin{},
			meta.Event{ID: 8, Kind: "manifest.delete", Repo: "lib", Digest: d1, CreatedAt: at},
			map[string]any{"specversion": "1.0", "id": "8-3", "source": "berth", "type": "io.berth.artifact.deleted",
				"time": "2024-05-06T07:08:09.123Z", "subject": "lib@" + d1.String(), "datacontenttype": "application/json",
				"data": map[string]any{"repository": "lib", "digest": d1.String()}}},
		{"quota warning", Origin{},
			meta.Event{ID: 9, Kind: meta.EventQuotaWarning, Repo: "lib", Size: 9000, Detail: "project lib uses 8.7 KiB of its 9.7 KiB quota (90%)", CreatedAt: at},
			map[string]any{"specversion": "1.0", "id": "9-3", "source": "berth", "type": "io.berth.quota.warning",
				"time": "2024-05-06T07:08:09.123Z", "subject": "lib", "datacontenttype": "application/json",
				"data": map[string]any{"repository": "lib", "size": 9000.0, "detail": "project lib uses 8.7 KiB of its 9.7 KiB quota (90%)"}}},
		{"unknown kind", Origin{},
			meta.Event{ID: 10, Kind: "something.new", Repo: "lib", CreatedAt: at},
			map[string]any{"specversion": "1.0", "id": "10-3", "source": "berth", "type": "io.berth.something.new",
				"time": "2024-05-06T07:08:09.123Z", "subject": "lib", "datacontenttype": "application/json",
				"data": map[string]any{"repository": "lib"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := CloudEventBody(tt.origin, 3, tt.e)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CloudEvent =\n%s\nwant %v", b, tt.want)
			}
		})
	}
}

func TestBodyFormats(t *testing.T) {
	e := meta.Event{ID: 1, Kind: "manifest.push", Repo: "r", CreatedAt: at}
	tests := []struct {
		format, contentType string
		events              int
		wantErr             bool
	}{
		{meta.WebhookFormatRegistry, ContentTypeRegistry, 2, false},
		{meta.WebhookFormatCloudEvents, ContentTypeCloudEvents, 1, false},
		{meta.WebhookFormatCloudEvents, "", 2, true},
		{"xml", "", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			evs := make([]meta.Event, tt.events)
			for i := range evs {
				evs[i] = e
			}
			_, ct, err := body(Origin{}, meta.Webhook{ID: 1, Format: tt.format}, evs)
			if (err != nil) != tt.wantErr || ct != tt.contentType {
				t.Errorf("body: content type %q, err %v; want %q, error %v", ct, err, tt.contentType, tt.wantErr)
			}
		})
	}
}

func TestSignature(t *testing.T) {
	body := []byte(`{"events":[]}`)
	// computed independently: HMAC-SHA256 keyed "s3cret" (Python's hmac)
	const want = "sha256=66e558d03919c6fa065e88fe40f06defe8192f6a30d4aa72fa79bdd775efa48c"
	got := Sign([]byte("s3cret"), body)
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	tests := []struct {
		name   string
		secret string
		body   string
		header string
		want   bool
	}{
		{"valid", "s3cret", string(body), got, true},
		{"other secret", "other", string(body), got, false},
		{"body changed", "s3cret", `{"events":[{}]}`, got, false},
		{"no prefix", "s3cret", string(body), got[7:], false},
		{"empty", "s3cret", string(body), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := Verify([]byte(tt.secret), []byte(tt.body), tt.header); v != tt.want {
				t.Errorf("Verify = %v, want %v", v, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	var (
		wait time.Duration
		got  []time.Duration
	)
	for range 12 {
		wait = Backoff(wait, time.Second, 5*time.Minute)
		got = append(got, wait)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("backoff sequence %v, want %v seconds", got, want)
		}
	}
}

func TestNext(t *testing.T) {
	evs := []meta.Event{
		{ID: 3, Kind: "manifest.push", Repo: "a/x"},
		{ID: 4, Kind: "manifest.push", Repo: "b/x"},
		{ID: 5, Kind: "manifest.delete", Repo: "a/y"},
		{ID: 6, Kind: meta.EventPull, Repo: "a"},
		{ID: 8, Kind: "blob.delete", Repo: "a/x"},
	}
	tests := []struct {
		name    string
		w       meta.Webhook
		n       int
		wantIDs []int64
		upTo    int64
	}{
		{"global all", meta.Webhook{Events: []string{"all"}}, 50, []int64{3, 4, 5, 6, 8}, 8},
		{"global all, batch of 2", meta.Webhook{Events: []string{"all"}}, 2, []int64{3, 4}, 4},
		{"project a, push and delete", meta.Webhook{Project: "a", Events: []string{"push", "delete"}}, 50, []int64{3, 5}, 8},
		{"project a, one at a time", meta.Webhook{Project: "a", Events: []string{"push", "delete"}}, 1, []int64{3}, 3},
		{"project b, pulls", meta.Webhook{Project: "b", Events: []string{"pull"}}, 50, nil, 8},
		{"project a, pulls", meta.Webhook{Project: "a", Events: []string{"pull"}}, 1, []int64{6}, 6},
		{"tag deletes only", meta.Webhook{Events: []string{"tag_delete"}}, 50, nil, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := next(tt.w, evs, tt.n)
			var ids []int64
			for _, e := range p.events {
				ids = append(ids, e.ID)
			}
			if !reflect.DeepEqual(ids, tt.wantIDs) || p.upTo != tt.upTo {
				t.Errorf("next = %v up to %d, want %v up to %d", ids, p.upTo, tt.wantIDs, tt.upTo)
			}
		})
	}
}

func TestEventHeader(t *testing.T) {
	got := eventHeader([]meta.Event{{Kind: "manifest.push"}, {Kind: meta.EventPull}, {Kind: "manifest.push"}})
	if want := "io.berth.artifact.pushed,io.berth.artifact.pulled"; got != want {
		t.Errorf("eventHeader = %q, want %q", got, want)
	}
}
