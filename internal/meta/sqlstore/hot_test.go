package sqlstore

import (
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// TestHotQueriesPrepared checks that what every push and pull runs uses
// statements prepared once per connection (readQueries/writeQueries), not
// ones prepared again in every transaction: a missing entry still works,
// only slower, so nothing else would notice.
func TestHotQueriesPrepared(t *testing.T) {
	s, _ := newTestStore(t)
	layer, m := digest.FromString("layer"), meta.Manifest{Digest: digest.FromString("m"), MediaType: "x", Content: []byte("{}")}
	steps := []struct {
		name string
		fn   func(tx meta.Tx) error
	}{
		{"link a blob", func(tx meta.Tx) error { return tx.LinkBlob("p/r", layer, 10) }},
		{"link it again", func(tx meta.Tx) error { return tx.LinkBlob("p/r", layer, 10) }},
		{"read the link", func(tx meta.Tx) error { _, err := tx.BlobLink("p/r", layer); return err }},
		{"put a manifest", func(tx meta.Tx) error { return tx.PutManifest("p/r", m, meta.Refs{Blobs: []digest.Digest{layer}}) }},
		{"tag it", func(tx meta.Tx) error { _, err := tx.PutTag("p/r", "v1", m.Digest); return err }},
		{"read it by tag", func(tx meta.Tx) error { _, err := tx.ManifestByTag("p/r", "v1"); return err }},
		{"note a sighting", func(tx meta.Tx) error { return tx.TouchManifest("p/r", m.Digest, time.Now()) }},
		{"read the sighting", func(tx meta.Tx) error { _, err := tx.ManifestSeen("p/r", m.Digest); return err }},
		{"end an upload", func(tx meta.Tx) error { return tx.EndUpload("u1") }},
		{"read the end", func(tx meta.Tx) error { _, err := tx.UploadEnded("u1"); return err }},
		{"project usage", func(tx meta.Tx) error { _, err := tx.ProjectUsage("p"); return err }},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := s.adhoc.Load()
			if err := s.Update(t.Context(), st.fn); err != nil {
				t.Fatal(err)
			}
			if n := s.adhoc.Load() - before; n != 0 {
				t.Errorf("%d statements prepared for this transaction alone: add the queries to readQueries/writeQueries", n)
			}
		})
	}
}
