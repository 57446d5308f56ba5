package metatest

import (
	"bytes"
	"cmp"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// sameManifest compares every field; Content only when withContent.
func sameManifest(t *testing.T, what string, got, want meta.Manifest, withContent bool) {
	t.Helper()
	if got.Digest != want.Digest || got.MediaType != want.MediaType || got.ArtifactType != want.ArtifactType ||
		got.Size != want.Size || got.Subject != want.Subject || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
	if !maps.Equal(got.Annotations, want.Annotations) {
		t.Errorf("%s annotations = %v, want %v", what, got.Annotations, want.Annotations)
	}
	if withContent && !bytes.Equal(got.Content, want.Content) {
		t.Errorf("%s content = %q, want %q", what, got.Content, want.Content)
	}
	if !withContent && len(got.Content) != 0 {
		t.Errorf("%s content filled in (%d bytes), want none", what, len(got.Content))
	}
}

// refsOf returns the references of d in repo when the store exposes them.
func refsOf(t *testing.T, s meta.Store, repo string, d digest.Digest) (meta.Refs, bool) {
	t.Helper()
	var (
		refs meta.Refs
		ok   bool
	)
	view(t, s, func(r meta.Reader) (err error) {
		rr, isRR := r.(RefsReader)
		if !isRR {
			return nil
		}
		ok = true
		refs, err = rr.ManifestRefs(repo, d)
		return err
	})
	if !ok {
		t.Logf("store does not implement metatest.RefsReader: references not checked")
	}
	return refs, ok
}

var manifestTests = []test{
	{"put and get", func(t *testing.T, s meta.Store) {
		m := manifest("one")
		m.Subject = dg("subject")
		m.Annotations = map[string]string{"org.opencontainers.image.created": "2024-01-01T00:00:00Z", "k": "v\"quoted\""}
		m.Content = append(m.Content, 0, 0xff, '\n') // arbitrary bytes survive
		m.Size = int64(len(m.Content))
		putManifests(t, s, "repo", m)
		view(t, s, func(r meta.Reader) error {
			got, err := r.Manifest("repo", m.Digest)
			if err != nil {
				return err
			}
			sameManifest(t, "Manifest", got, m, true)
			_, err = r.Manifest("other", m.Digest)
			wantNotFound(t, "Manifest in another repository", err)
			_, err = r.Manifest("repo", dg("absent"))
			wantNotFound(t, "Manifest of an absent digest", err)
			return nil
		})
	}},
	{"defaults", func(t *testing.T, s meta.Store) {
		m := manifest("plain")
		m.ArtifactType, m.CreatedAt = "", time.Time{}
		putManifests(t, s, "repo", m)
		view(t, s, func(r meta.Reader) error {
			got, err := r.Manifest("repo", m.Digest)
			if err != nil {
				return err
			}
			if got.Subject != "" || got.ArtifactType != "" || len(got.Annotations) != 0 || !near(got.CreatedAt) {
				t.Errorf("Manifest = %+v, want no subject, artifact type or annotations and CreatedAt about now", got)
			}
			return nil
		})
	}},
	{"put existing replaces nothing", func(t *testing.T, s meta.Store) {
		m := manifest("one")
		update(t, s, func(tx meta.Tx) error {
			return tx.PutManifest("repo", m, meta.Refs{Blobs: []digest.Digest{dg("config")}})
		})
		changed := m
		changed.MediaType, changed.Content = "application/other", []byte("different")
		update(t, s, func(tx meta.Tx) error {
			return tx.PutManifest("repo", changed, meta.Refs{Blobs: []digest.Digest{dg("other")}})
		})
		view(t, s, func(r meta.Reader) error {
			got, err := r.Manifest("repo", m.Digest)
			if err == nil {
				sameManifest(t, "Manifest after second put", got, m, true)
			}
			return err
		})
		if refs, ok := refsOf(t, s, "repo", m.Digest); ok && !slices.Equal(refs.Blobs, []digest.Digest{dg("config")}) {
			t.Errorf("references after second put = %v, want the first put's", refs.Blobs)
		}
	}},
	{"same digest in two repositories", func(t *testing.T, s meta.Store) {
		m := manifest("shared")
		putManifests(t, s, "a", m)
		putManifests(t, s, "b", m)
		update(t, s, func(tx meta.Tx) error { return tx.DeleteManifest("a", m.Digest) })
		view(t, s, func(r meta.Reader) error {
			_, err := r.Manifest("a", m.Digest)
			wantNotFound(t, "Manifest after delete", err)
			_, err = r.Manifest("b", m.Digest)
			return err
		})
	}},
	{"references", func(t *testing.T, s meta.Store) {
		m := manifest("index")
		refs := meta.Refs{
			Blobs:     []digest.Digest{dg("layer-b"), dg("config"), dg("layer-a"), dg("layer-b")},
			Manifests: []digest.Digest{dg("child-2"), dg("child-1")}, // need not exist
		}
		update(t, s, func(tx meta.Tx) error { return tx.PutManifest("repo", m, refs) })
		got, ok := refsOf(t, s, "repo", m.Digest)
		if !ok {
			return
		}
		wantBlobs := []digest.Digest{dg("config"), dg("layer-a"), dg("layer-b")}
		slices.Sort(wantBlobs)
		wantChildren := []digest.Digest{dg("child-1"), dg("child-2")}
		slices.Sort(wantChildren)
		if !slices.Equal(got.Blobs, wantBlobs) || !slices.Equal(got.Manifests, wantChildren) {
			t.Errorf("ManifestRefs = %v, want blobs %v and manifests %v", got, wantBlobs, wantChildren)
		}
	}},
	{"delete cascades to tags and references", func(t *testing.T, s meta.Store) {
		m, keep := manifest("doomed"), manifest("kept")
		update(t, s, func(tx meta.Tx) error {
			if err := tx.PutManifest("repo", m, meta.Refs{Blobs: []digest.Digest{dg("l1")}, Manifests: []digest.Digest{keep.Digest}}); err != nil {
				return err
			}
			if err := tx.PutManifest("repo", keep, meta.Refs{Blobs: []digest.Digest{dg("l1")}}); err != nil {
				return err
			}
			for _, tag := range []string{"latest", "v1"} {
				if _, err := tx.PutTag("repo", tag, m.Digest); err != nil {
					return err
				}
			}
			_, err := tx.PutTag("repo", "stay", keep.Digest)
			return err
		})
		update(t, s, func(tx meta.Tx) error { return tx.DeleteManifest("repo", m.Digest) })
		view(t, s, func(r meta.Reader) error {
			_, err := r.Manifest("repo", m.Digest)
			wantNotFound(t, "Manifest after delete", err)
			_, err = r.ManifestByTag("repo", "latest")
			wantNotFound(t, "ManifestByTag of a tag of a deleted manifest", err)
			_, err = r.Tag("repo", "v1")
			wantNotFound(t, "Tag of a deleted manifest", err)
			tags, err := r.ListTags("repo", "", 0)
			if !slices.Equal(tags, []string{"stay"}) {
				t.Errorf("ListTags after delete = %q, want [stay]", tags)
			}
			return err
		})
		if refs, ok := refsOf(t, s, "repo", m.Digest); ok && (len(refs.Blobs) != 0 || len(refs.Manifests) != 0) {
			t.Errorf("references of deleted manifest = %v, want none", refs)
		}
		if refs, ok := refsOf(t, s, "repo", keep.Digest); ok && len(refs.Blobs) != 1 {
			t.Errorf("references of the other manifest = %v, want its one blob", refs)
		}
		err := s.Update(ctx(t), func(tx meta.Tx) error { return tx.DeleteManifest("repo", m.Digest) })
		wantNotFound(t, "second DeleteManifest", err)
		err = s.Update(ctx(t), func(tx meta.Tx) error { return tx.DeleteManifest("nope", m.Digest) })
		wantNotFound(t, "DeleteManifest in an absent repository", err)
		// The manifest can be pushed again, references and all.
		update(t, s, func(tx meta.Tx) error {
			return tx.PutManifest("repo", m, meta.Refs{Blobs: []digest.Digest{dg("l2")}})
		})
		if refs, ok := refsOf(t, s, "repo", m.Digest); ok && !slices.Equal(refs.Blobs, []digest.Digest{dg("l2")}) {
			t.Errorf("references after re-push = %v, want [l2]", refs.Blobs)
		}
	}},
}

var referrerTests = []test{
	{"filter and order", func(t *testing.T, s meta.Store) {
		subject := manifest("subject")
		const sig, sbom = "application/vnd.example.signature", "application/vnd.example.sbom"
		mk := func(name, at string, annots map[string]string) meta.Manifest {
			m := manifest(name)
			m.Subject, m.ArtifactType, m.Annotations = subject.Digest, at, annots
			return m
		}
		refs := []meta.Manifest{
			mk("sig-1", sig, map[string]string{"org.example.signer": "alice"}),
			mk("sbom", sbom, nil),
			mk("sig-2", sig, map[string]string{"a": "1", "b": ""}),
		}
		elsewhere := mk("elsewhere", sig, nil)
		putManifests(t, s, "repo", append([]meta.Manifest{subject, manifest("unrelated")}, refs...)...)
		putManifests(t, s, "other", elsewhere)
		byDigest := func(ms []meta.Manifest) []meta.Manifest {
			out := slices.Clone(ms)
			slices.SortFunc(out, func(a, b meta.Manifest) int { return cmp.Compare(a.Digest, b.Digest) })
			return out
		}
		cases := []struct {
			name, repo   string
			subject      digest.Digest
			artifactType string
			want         []meta.Manifest
		}{
			{"all", "repo", subject.Digest, "", byDigest(refs)},
			{"signatures", "repo", subject.Digest, sig, byDigest([]meta.Manifest{refs[0], refs[2]})},
			{"sbom", "repo", subject.Digest, sbom, []meta.Manifest{refs[1]}},
			{"unknown type", "repo", subject.Digest, "application/none", nil},
			{"no referrers", "repo", dg("lonely"), "", nil},
			{"other repository", "other", subject.Digest, "", []meta.Manifest{elsewhere}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				view(t, s, func(r meta.Reader) error {
					got, err := r.Referrers(c.repo, c.subject, c.artifactType)
					if err != nil {
						return err
					}
					if len(got) != len(c.want) {
						t.Fatalf("Referrers returned %d manifests, want %d: %+v", len(got), len(c.want), got)
					}
					for i := range got {
						want := c.want[i]
						want.Content = nil
						sameManifest(t, "referrer "+want.Digest.String(), got[i], want, false)
					}
					return nil
				})
			})
		}
	}},
	{"deleted referrer disappears", func(t *testing.T, s meta.Store) {
		m := manifest("sig")
		m.Subject = dg("subject")
		putManifests(t, s, "repo", m)
		update(t, s, func(tx meta.Tx) error { return tx.DeleteManifest("repo", m.Digest) })
		view(t, s, func(r meta.Reader) error {
			got, err := r.Referrers("repo", m.Subject, "")
			if len(got) != 0 {
				t.Errorf("Referrers after delete = %+v, want none", got)
			}
			return err
		})
	}},
}
