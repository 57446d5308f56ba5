package metatest

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

var listingTests = []test{
	{"blob links of a repository, paged by digest", func(t *testing.T, s meta.Store) {
		var want []meta.BlobLink
		update(t, s, func(tx meta.Tx) error {
			for i := range 7 {
				l := meta.BlobLink{Digest: dg(fmt.Sprint("blob", i)), Size: int64(100 + i)}
				want = append(want, l)
				if err := tx.LinkBlob("r", l.Digest, l.Size); err != nil {
					return err
				}
			}
			return tx.LinkBlob("other", dg("elsewhere"), 1)
		})
		slices.SortFunc(want, func(a, b meta.BlobLink) int { return bytes.Compare([]byte(a.Digest), []byte(b.Digest)) })
		var got []meta.BlobLink
		var after digest.Digest
		for {
			var page []meta.BlobLink
			view(t, s, func(r meta.Reader) error {
				var err error
				page, err = r.ListBlobLinks("r", after, 3)
				return err
			})
			if len(page) > 3 {
				t.Fatalf("page of %d, want at most 3", len(page))
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].Digest
		}
		if !slices.Equal(got, want) {
			t.Fatalf("paged links = %v, want %v", got, want)
		}
		view(t, s, func(r meta.Reader) error {
			all, err := r.ListBlobLinks("r", "", 0)
			if err != nil || !slices.Equal(all, want) {
				t.Errorf("unpaged links = %v, %v", all, err)
			}
			none, err := r.ListBlobLinks("missing", "", 0)
			if err != nil || len(none) != 0 {
				t.Errorf("links of a missing repository = %v, %v", none, err)
			}
			return nil
		})
	}},
	{"manifests of a repository with content, paged by digest", func(t *testing.T, s meta.Store) {
		var want []meta.Manifest
		update(t, s, func(tx meta.Tx) error {
			for i := range 5 {
				m := manifest(fmt.Sprint("m", i))
				want = append(want, m)
				if err := tx.PutManifest("r", m, meta.Refs{}); err != nil {
					return err
				}
			}
			return tx.PutManifest("other", manifest("not mine"), meta.Refs{})
		})
		slices.SortFunc(want, func(a, b meta.Manifest) int { return bytes.Compare([]byte(a.Digest), []byte(b.Digest)) })
		var got []meta.Manifest
		var after digest.Digest
		for {
			var page []meta.Manifest
			view(t, s, func(r meta.Reader) error {
				var err error
				page, err = r.ListManifests("r", after, 2)
				return err
			})
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].Digest
		}
		if len(got) != len(want) {
			t.Fatalf("got %d manifests, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i].Digest != want[i].Digest || !bytes.Equal(got[i].Content, want[i].Content) || got[i].MediaType != want[i].MediaType {
				t.Errorf("manifest %d = %s (%d bytes), want %s", i, got[i].Digest, len(got[i].Content), want[i].Digest)
			}
		}
	}},
}
