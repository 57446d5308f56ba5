package replicate

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

func TestScheduleNext(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		expr, from, want string
	}{
		{"*/5 * * * *", "2024-03-01T10:02:30Z", "2024-03-01T10:05:00Z"},
		{"*/5 * * * *", "2024-03-01T10:05:00Z", "2024-03-01T10:10:00Z"},
		{"0 3 * * *", "2024-03-01T10:02:30Z", "2024-03-02T03:00:00Z"},
		{"30 2 1 * *", "2024-12-15T00:00:00Z", "2025-01-01T02:30:00Z"},
		{"0 0 * * 1-5", "2024-03-01T12:00:00Z", "2024-03-04T00:00:00Z"}, // Friday → Monday
		{"0 0 * * 7", "2024-03-01T12:00:00Z", "2024-03-03T00:00:00Z"},   // Sunday as 7
		{"0 12 13 * 5", "2024-03-01T13:00:00Z", "2024-03-08T12:00:00Z"}, // day 13 or a Friday
		{"15,45 9-10 * 6 *", "2024-03-01T00:00:00Z", "2024-06-01T09:15:00Z"},
		{"*/10 * * * * *", "2024-03-01T10:00:01Z", "2024-03-01T10:00:10Z"},
		{"0 0 31 2 *", "2024-03-01T00:00:00Z", "0001-01-01T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.expr+" after "+tc.from, func(t *testing.T) {
			s, err := ParseSchedule(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(at(tc.from)); !got.Equal(at(tc.want)) {
				t.Fatalf("Next = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseScheduleErrors(t *testing.T) {
	for _, expr := range []string{"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "*/0 * * * *", "5-1 * * * *", "a * * * *", "* * * 13 *", "* * * * 8"} {
		t.Run(expr, func(t *testing.T) {
			if _, err := ParseSchedule(expr); err == nil {
				t.Fatalf("ParseSchedule(%q) accepted it", expr)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		n    int
		want time.Duration
	}{{1, 2 * time.Second}, {2, 4 * time.Second}, {3, 8 * time.Second}, {8, 256 * time.Second}, {9, 5 * time.Minute}, {50, 5 * time.Minute}}
	for _, tc := range tests {
		if got := Backoff(tc.n, 2*time.Second, 5*time.Minute); got != tc.want {
			t.Errorf("Backoff(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}
}

func TestFilter(t *testing.T) {
	f, err := NewFilter(meta.ReplicationPolicy{Repositories: "production/**", Tags: "v*", Label: "tier=gold"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"repo below", f.MatchRepo("production/web/api"), true},
		{"repo itself", f.MatchRepo("production"), true},
		{"other repo", f.MatchRepo("staging/web"), false},
		{"tag", f.MatchTag("v1.2"), true},
		{"other tag", f.MatchTag("latest"), false},
		{"label", f.matchLabels(map[string]string{"tier": "gold"}), true},
		{"label, other value", f.matchLabels(map[string]string{"tier": "silver"}), false},
		{"no labels", f.matchLabels(nil), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	any, err := NewFilter(meta.ReplicationPolicy{Repositories: "**", Label: "signed"})
	if err != nil || !any.MatchTag("anything") || !any.matchLabels(map[string]string{"signed": ""}) {
		t.Fatalf("key-only label filter: %v", err)
	}
	if d, ok := subjectOfTag("sha256-" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + ".sig"); !ok || d.Encoded()[:4] != "0123" {
		t.Fatalf("subjectOfTag = %s, %v", d, ok)
	}
	if _, ok := subjectOfTag("v1"); ok {
		t.Fatal("v1 taken for a digest tag")
	}
}

func TestValidate(t *testing.T) {
	good := meta.ReplicationPolicy{Name: "p", Direction: "push", RemoteURL: "https://r.example:5000", Repositories: "**"}
	tests := []struct {
		name string
		edit func(p *meta.ReplicationPolicy)
		ok   bool
	}{
		{"good", func(p *meta.ReplicationPolicy) {}, true},
		{"bare host", func(p *meta.ReplicationPolicy) { p.RemoteURL = "127.0.0.1:5000" }, true},
		{"events and deletes", func(p *meta.ReplicationPolicy) { p.OnEvent, p.Deletes = true, true }, true},
		{"no name", func(p *meta.ReplicationPolicy) { p.Name = "" }, false},
		{"direction", func(p *meta.ReplicationPolicy) { p.Direction = "sideways" }, false},
		{"url with a path", func(p *meta.ReplicationPolicy) { p.RemoteURL = "https://r.example/v2/x" }, false},
		{"ftp", func(p *meta.ReplicationPolicy) { p.RemoteURL = "ftp://r.example" }, false},
		{"bad glob", func(p *meta.ReplicationPolicy) { p.Repositories = "a//b" }, false},
		{"bad schedule", func(p *meta.ReplicationPolicy) { p.Schedule = "every day" }, false},
		{"events on pull", func(p *meta.ReplicationPolicy) { p.Direction, p.OnEvent = "pull", true }, false},
		{"deletes without events", func(p *meta.ReplicationPolicy) { p.Deletes = true }, false},
		{"bad label", func(p *meta.ReplicationPolicy) { p.Label = "=x" }, false},
		{"negative bandwidth", func(p *meta.ReplicationPolicy) { p.Bandwidth = -1 }, false},
		{"bad prefix", func(p *meta.ReplicationPolicy) { p.Prefix = "/mirror" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			tc.edit(&p)
			err := Validate(p)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestHandlerTransport(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Addr", r.RemoteAddr)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(r.Method + " " + r.URL.Path + " " + string(b)))
	})
	c := &http.Client{Transport: HandlerTransport{H: h}}
	req := httptest.NewRequest(http.MethodPut, "http://berth.internal/v2/x", nil)
	req.RequestURI = ""
	req.Body = io.NopCloser(strings.NewReader("body"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || string(b) != "PUT /v2/x body" || resp.Header.Get("X-Addr") != "127.0.0.1:1" {
		t.Fatalf("%d %q %v", resp.StatusCode, b, resp.Header)
	}
}
