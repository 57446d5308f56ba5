package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		id := newRequestID()
		if len(id) != 16 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("request ID %q: want 16 characters of [a-z2-7]", id)
		}
		if seen[id] {
			t.Fatalf("request ID %q repeated", id)
		}
		seen[id] = true
	}
}

func TestEdgeRequestID(t *testing.T) {
	var inCtx string
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inCtx = RequestID(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})
	h := Edge(inner, EdgeOptions{TrustedProxies: prefixes("10.0.0.0/8")}, slog.New(slog.DiscardHandler))
	tests := []struct {
		name   string
		remote string
		sent   string
		keep   bool // the answer carries the sent ID
	}{
		{"a direct client without an ID", "192.0.2.7:4000", "", false},
		{"a direct client's ID is not believed", "192.0.2.7:4000", "client-chosen", false},
		{"a trusted proxy's ID is kept", "10.1.2.3:4000", "proxy-7f3a.01", true},
		{"a trusted proxy's ID with a space is replaced", "10.1.2.3:4000", "two words", false},
		{"a trusted proxy's ID with a quote is replaced", "10.1.2.3:4000", `a"b`, false},
		{"a trusted proxy's overlong ID is replaced", "10.1.2.3:4000", strings.Repeat("x", 129), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inCtx = ""
			req := httptest.NewRequest("GET", "/v2/", nil)
			req.RemoteAddr = tt.remote
			if tt.sent != "" {
				req.Header.Set(RequestIDHeader, tt.sent)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get(RequestIDHeader)
			if got == "" || got != inCtx {
				t.Fatalf("response ID %q, handler's context %q: want the same, non-empty", got, inCtx)
			}
			if (got == tt.sent) != tt.keep {
				t.Fatalf("sent %q, got %q; want kept=%v", tt.sent, got, tt.keep)
			}
			if !tt.keep && len(got) != 16 {
				t.Fatalf("generated ID %q is not 16 characters", got)
			}
		})
	}
}

func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil)))
	ctx := context.WithValue(context.Background(), infoKey, &reqInfo{id: "abc123"})
	tests := []struct {
		name   string
		log    func()
		wantID string
	}{
		{"a *Context call in a request", func() { log.InfoContext(ctx, "m") }, "abc123"},
		{"a derived logger keeps it", func() { log.With("k", "v").ErrorContext(ctx, "m") }, "abc123"},
		{"a call without a context", func() { log.Info("m") }, ""},
		{"a context outside any request", func() { log.WarnContext(context.Background(), "m") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			tt.log()
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("%v: %s", err, buf.String())
			}
			got, _ := rec["request_id"].(string)
			if got != tt.wantID {
				t.Fatalf("request_id %q, want %q in %s", got, tt.wantID, buf.String())
			}
		})
	}
	if h := LogHandler(log.Handler()); h != log.Handler() {
		t.Error("LogHandler wrapped an already wrapped handler again")
	}
}
