package app

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/config"
)

// TestAuthModeNone: the open registry of local experiments, as registry:2.
func TestAuthModeNone(t *testing.T) {
	_, base := startApp(t, func(cfg *config.Config) { cfg.Auth.Mode = "none" })
	host := strings.TrimPrefix(base, "http://")
	img, _ := random.Image(512, 1)
	if err := remote.Write(mustRef(t, host+"/anyone/app:v1"), img); err != nil {
		t.Fatalf("anonymous push: %v", err)
	}
	if _, err := remote.Image(mustRef(t, host+"/anyone/app:v1")); err != nil {
		t.Fatalf("anonymous pull: %v", err)
	}
	for path, want := range map[string]int{"/v2/": 200, "/token": 404, "/api/v1/me": 404, "/v2/_catalog": 200} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || resp.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("GET %s = %d (challenge %q), want %d and no challenge", path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
		}
	}
}
