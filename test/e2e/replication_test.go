//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestReplicationToReferenceRegistry: an event-triggered push policy on
// berth copies a signed two-platform index, as it is pushed, into the
// reference registry (no referrers API there: the SBOM goes through the
// referrers tag schema), with all platforms and the signature tag.
func TestReplicationToReferenceRegistry(t *testing.T) {
	requireBerth(t)
	if !authOn() {
		t.Skip("the management API needs authentication")
	}
	a := startServer(t, serverOpts{})
	ref := startReferenceRegistry(t)
	body := fmt.Sprintf(`{"name":"to-reference","direction":"push","url":"http://%s","repositories":"team/**","prefix":"dr","on_event":true}`, ref.host())
	req, err := http.NewRequest(http.MethodPost, a.url("/api/v1/replication/policies"), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(adminUser, adminPassword)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("add policy: %s", resp.Status)
	}
	idx, sbom, sig := pushSignedIndex(t, a.host()+"/team/app", "v1")
	// The pushes are copied by concurrent jobs: wait until all of them
	// are in (the signature may land before its index's tag).
	anon := remote.WithAuth(authn.Anonymous)
	deadline := time.Now().Add(time.Minute)
	for {
		err := copiedErr(t, ref.host()+"/dr/team/app", anon, idx, sbom, sig)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not all of the signed index reached the reference registry within a minute: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
