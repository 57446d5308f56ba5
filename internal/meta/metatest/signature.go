package metatest

import (
	"errors"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

var signatureTests = []test{
	{"signature policies: add, list, update bumps the version, collide, delete, go with the project", func(t *testing.T, s meta.Store) {
		var a, b int64
		update(t, s, func(tx meta.Tx) error {
			for _, p := range []string{"prod", "dev"} {
				if err := tx.CreateProject(meta.Project{Name: p}); err != nil {
					return err
				}
			}
			var err error
			_, err = tx.AddSignaturePolicy(meta.SignaturePolicy{Project: "nope", Keys: "k"})
			wantNotFound(t, "AddSignaturePolicy to a missing project", err)
			if a, err = tx.AddSignaturePolicy(meta.SignaturePolicy{Project: "prod", Keys: "K1"}); err != nil {
				return err
			}
			if b, err = tx.AddSignaturePolicy(meta.SignaturePolicy{Project: "prod", Repositories: "prod/web/**", DryRun: true,
				Certificates: "C1", Identities: []string{"x509.subject: CN=a, O=b", "x509.subject: CN=c"}}); err != nil {
				return err
			}
			if _, err := tx.AddSignaturePolicy(meta.SignaturePolicy{Project: "dev", Keys: "K2"}); err != nil {
				return err
			}
			if _, err := tx.AddSignaturePolicy(meta.SignaturePolicy{Project: "prod", Keys: "K3"}); !errors.Is(err, meta.ErrExists) {
				t.Errorf("a second policy for the same repositories: %v, want ErrExists", err)
			}
			return nil
		})
		view(t, s, func(r meta.Reader) error {
			ps, err := r.SignaturePolicies("prod")
			if err != nil {
				return err
			}
			if len(ps) != 2 || ps[0].ID != a || ps[0].Keys != "K1" || ps[0].Version != 1 || ps[0].DryRun ||
				ps[1].Repositories != "prod/web/**" || !ps[1].DryRun || ps[1].Certificates != "C1" ||
				!slices.Equal(ps[1].Identities, []string{"x509.subject: CN=a, O=b", "x509.subject: CN=c"}) || !near(ps[1].CreatedAt) {
				t.Errorf("SignaturePolicies(prod) = %+v", ps)
			}
			all, err := r.SignaturePolicies("")
			if err != nil {
				return err
			}
			if len(all) != 3 {
				t.Errorf("SignaturePolicies(\"\") has %d, want 3", len(all))
			}
			_, err = r.SignaturePolicy(999)
			wantNotFound(t, "SignaturePolicy(999)", err)
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			p, err := tx.SignaturePolicy(b)
			if err != nil {
				return err
			}
			p.Repositories, p.DryRun, p.Keys, p.Identities = "prod/web/*", false, "K9", nil
			if err := tx.UpdateSignaturePolicy(p); err != nil {
				return err
			}
			p.Repositories = "" // policy a's
			if err := tx.UpdateSignaturePolicy(p); !errors.Is(err, meta.ErrExists) {
				t.Errorf("update onto another policy's repositories: %v, want ErrExists", err)
			}
			wantNotFound(t, "UpdateSignaturePolicy(999)", tx.UpdateSignaturePolicy(meta.SignaturePolicy{ID: 999}))
			return nil
		})
		view(t, s, func(r meta.Reader) error {
			p, err := r.SignaturePolicy(b)
			if err != nil {
				return err
			}
			if p.Version != 2 || p.Repositories != "prod/web/*" || p.DryRun || p.Keys != "K9" || len(p.Identities) != 0 || p.Project != "prod" {
				t.Errorf("after update: %+v", p)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			if err := tx.DeleteSignaturePolicy(a); err != nil {
				return err
			}
			wantNotFound(t, "DeleteSignaturePolicy twice", tx.DeleteSignaturePolicy(a))
			return tx.DeleteProject("prod")
		})
		view(t, s, func(r meta.Reader) error {
			ps, err := r.SignaturePolicies("")
			if err != nil {
				return err
			}
			if len(ps) != 1 || ps[0].Project != "dev" {
				t.Errorf("after deleting prod: %+v", ps)
			}
			return nil
		})
	}},
	{"manifest parent digests", func(t *testing.T, s meta.Store) {
		child := dg("child")
		idx := func(name string) meta.Manifest { m := manifest(name); return m }
		i1, i2 := idx("index-1"), idx("index-2")
		update(t, s, func(tx meta.Tx) error {
			for _, m := range []meta.Manifest{i2, i1} {
				if err := tx.PutManifest("r/x", m, meta.Refs{Manifests: []digest.Digest{child, dg("other")}}); err != nil {
					return err
				}
			}
			return tx.PutManifest("r/y", manifest("index-3"), meta.Refs{Manifests: []digest.Digest{child}})
		})
		view(t, s, func(r meta.Reader) error {
			got, err := r.ManifestParentDigests("r/x", child, 10)
			if err != nil {
				return err
			}
			want := []digest.Digest{i1.Digest, i2.Digest}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("parents = %v, want %v (never another repository's)", got, want)
			}
			if got, _ := r.ManifestParentDigests("r/x", child, 1); len(got) != 1 {
				t.Errorf("n=1 gave %v", got)
			}
			if got, _ := r.ManifestParentDigests("r/x", dg("orphan"), 10); len(got) != 0 {
				t.Errorf("parents of an orphan = %v", got)
			}
			return nil
		})
	}},
}
