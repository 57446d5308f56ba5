package replicate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/meta"
)

func TestPolicyConnsFit(t *testing.T) {
	p := meta.ReplicationPolicy{ID: 1, RemoteURL: "https://r.example", Username: "u", Password: []byte("pw"), Bandwidth: 10}
	made := time.Now()
	c := &policyConns{remoteURL: p.RemoteURL, username: p.Username, password: p.Password, bandwidth: p.Bandwidth, made: made}
	tests := []struct {
		name string
		edit func(p *meta.ReplicationPolicy)
		at   time.Duration
		want bool
	}{
		{"same", func(*meta.ReplicationPolicy) {}, time.Second, true},
		{"other settings do not matter", func(p *meta.ReplicationPolicy) { p.Tags, p.Concurrency = "v*", 8 }, time.Second, true},
		{"expired", func(*meta.ReplicationPolicy) {}, connTTL, false},
		{"clock went back", func(*meta.ReplicationPolicy) {}, -time.Second, false},
		{"remote", func(p *meta.ReplicationPolicy) { p.RemoteURL = "https://s.example" }, 0, false},
		{"username", func(p *meta.ReplicationPolicy) { p.Username = "v" }, 0, false},
		{"password", func(p *meta.ReplicationPolicy) { p.Password = []byte("new") }, 0, false},
		{"insecure", func(p *meta.ReplicationPolicy) { p.Insecure = true }, 0, false},
		{"bandwidth", func(p *meta.ReplicationPolicy) { p.Bandwidth = 20 }, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := p
			tc.edit(&q)
			if got := c.fits(q, made.Add(tc.at)); got != tc.want {
				t.Fatalf("fits = %v, want %v", got, tc.want)
			}
		})
	}
}

// tokenRegistry answers /v2/ requests with 200 when they carry the bearer
// token it currently accepts, else 401 with a bearer challenge; it counts
// the pings (GET /v2/).
type tokenRegistry struct {
	mu     sync.Mutex
	accept string
	pings  int
}

func (r *tokenRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	accept := r.accept
	if req.URL.Path == "/v2/" {
		r.pings++
	}
	r.mu.Unlock()
	if accept != "" && req.Header.Get("Authorization") != "Bearer "+accept {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, req.Host))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("0", 64))
	w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	w.Header().Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
}

func (r *tokenRegistry) set(accept string) {
	r.mu.Lock()
	r.accept = accept
	r.mu.Unlock()
}

func (r *tokenRegistry) pingCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pings
}

// TestSidesReused: a policy's jobs share one connection to each side
// (one ping each) until the policy's remote settings change or a job
// drops it; the local token is issued when one is needed, not per job.
func TestSidesReused(t *testing.T) {
	local, rem := &tokenRegistry{}, &tokenRegistry{}
	srv := httptest.NewServer(rem)
	defer srv.Close()
	var issued atomic.Int32
	local.set("t1")
	s := New(Options{Local: Local{Handler: local, Auth: func() (authn.Authenticator, error) {
		return authn.FromConfig(authn.AuthConfig{RegistryToken: fmt.Sprintf("t%d", issued.Add(1))}), nil
	}}})
	p := meta.ReplicationPolicy{ID: 7, RemoteURL: srv.URL, Repositories: "**"}
	ctx := context.Background()
	head := func(sd sides) error {
		ref, err := name.ParseReference(sd.localHost+"/a/b:v1", sd.localOpts...)
		if err != nil {
			return err
		}
		_, err = remote.Head(ref, append(sd.localRemote, remote.WithContext(ctx))...)
		return err
	}
	steps := []struct {
		name                   string
		do                     func() error
		localPings, remotePing int
		issued                 int32
	}{
		{"first job connects", func() error {
			_, err := s.sides(ctx, p)
			return err
		}, 1, 1, 1},
		{"the next jobs reuse it", func() error {
			for range 3 {
				sd, err := s.sides(ctx, p)
				if err != nil {
					return err
				}
				if err := head(sd); err != nil {
					return err
				}
			}
			return nil
		}, 1, 1, 1},
		{"an expired token is renewed on its 401", func() error {
			local.set("t2")
			sd, err := s.sides(ctx, p)
			if err != nil {
				return err
			}
			return head(sd)
		}, 1, 1, 2},
		{"a changed password connects again", func() error {
			p.Password = []byte("new")
			_, err := s.sides(ctx, p)
			return err
		}, 2, 2, 3},
		{"a failed job drops the connections", func() error {
			if _, err := s.execute(ctx, p, meta.ReplicationJob{Action: "unknown"}); err == nil {
				return errors.New("a job of an unknown action succeeded")
			}
			local.set("t4")
			sd, err := s.sides(ctx, p)
			if err != nil {
				return err
			}
			return head(sd)
		}, 3, 3, 4},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
			lp, rp := local.pingCount(), rem.pingCount()
			if lp != st.localPings || rp != st.remotePing || issued.Load() != st.issued {
				t.Fatalf("%d local pings, %d remote pings, %d tokens issued; want %d, %d, %d",
					lp, rp, issued.Load(), st.localPings, st.remotePing, st.issued)
			}
		})
	}
}
