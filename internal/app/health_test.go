package app

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/berth-registry/berth/internal/config"
)

func TestHealthEndpoints(t *testing.T) {
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	get := func(path string) (int, map[string]string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s: body is not JSON: %v", path, err)
		}
		return resp.StatusCode, body
	}
	tests := []struct {
		name, path  string
		closeStores bool
		want        int
		wantField   string
		wantValue   string
	}{
		{"healthz", "/healthz", false, 200, "status", "ok"},
		{"readyz while the stores answer", "/readyz", false, 200, "status", "ready"},
		{"readyz with the metadata store closed", "/readyz", true, 503, "status", "unready"},
		{"healthz with the metadata store closed", "/healthz", true, 200, "status", "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.closeStores {
				_ = a.Close()
			}
			code, body := get(tt.path)
			if code != tt.want || body[tt.wantField] != tt.wantValue {
				t.Fatalf("GET %s = %d %v, want %d with %s=%s", tt.path, code, body, tt.want, tt.wantField, tt.wantValue)
			}
			if code == 503 && (body["metadata"] == "" || body["metadata"] == "ok") {
				t.Fatalf("unready body does not say why: %v", body)
			}
		})
	}
}
