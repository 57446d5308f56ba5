package metatest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// RefsReader is implemented by the Reader of stores that expose the
// references recorded by PutManifest (for GC). When a store's Reader
// implements it, Run also checks that references are stored and deleted.
type RefsReader interface {
	ManifestRefs(repo string, d digest.Digest) (meta.Refs, error)
}

// Run runs the suite. newStore must return a new, empty store for each
// subtest; Run closes it when the subtest ends.
func Run(t *testing.T, newStore func(t *testing.T) meta.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Repositories", repoTests},
		{"Blobs", blobTests},
		{"Manifests", manifestTests},
		{"Tags", tagTests},
		{"Referrers", referrerTests},
		{"Uploads", uploadTests},
		{"Events", eventTests},
		{"Transactions", txTests},
		{"Leases", leaseTests},
		{"Listing", listingTests},
		{"Access", accessTests},
		{"Throttles", throttleTests},
		{"Audit", auditTests},
		{"RepositoryDelete", repoDeleteTests},
		{"Policy", policyTests},
		{"Quarantine", quarantineTests},
		{"GC", gcTests},
		{"Pulls", pullTests},
		{"Quotas", quotaTests},
		{"Retention", retentionTests},
		{"Webhooks", webhookTests},
		{"Proxies", proxyTests},
		{"Replication", replicationTests},
		{"SignaturePolicies", signatureTests},
		{"Scans", scanTests},
		{"Close", closeTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					s := newStore(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					tc.fn(t, s)
				})
			}
		})
	}
}

type test struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}

func ctx(t *testing.T) context.Context { return t.Context() }

// update runs fn in an Update and fails the test on error.
func update(t *testing.T, s meta.Store, fn func(tx meta.Tx) error) {
	t.Helper()
	if err := s.Update(ctx(t), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// view runs fn in a View and fails the test on error.
func view(t *testing.T, s meta.Store, fn func(r meta.Reader) error) {
	t.Helper()
	if err := s.View(ctx(t), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func dg(s string) digest.Digest { return digest.FromString(s) }

// manifest returns an image manifest whose content is derived from name.
func manifest(name string) meta.Manifest {
	content := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","name":"` + name + `"}`)
	return meta.Manifest{
		Digest:       digest.FromBytes(content),
		MediaType:    "application/vnd.oci.image.manifest.v1+json",
		ArtifactType: "application/vnd.oci.image.config.v1+json",
		Size:         int64(len(content)),
		Content:      content,
		CreatedAt:    time.Unix(1700000000, 123456789).UTC(),
	}
}

// putManifests stores ms in repo in one transaction.
func putManifests(t *testing.T, s meta.Store, repo string, ms ...meta.Manifest) {
	t.Helper()
	update(t, s, func(tx meta.Tx) error {
		for _, m := range ms {
			if err := tx.PutManifest(repo, m, meta.Refs{}); err != nil {
				return err
			}
		}
		return nil
	})
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("%s: err = %v, want meta.ErrNotFound", what, err)
	}
}

// near reports whether got is within a minute of now (a store-assigned
// timestamp).
func near(got time.Time) bool {
	d := time.Since(got)
	return d > -time.Minute && d < time.Minute
}
