package relocate

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob/mem"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/registry"
)

func newStores(t *testing.T) (Stores, *registry.Service) {
	t.Helper()
	md, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { md.Close() })
	st := Stores{Blobs: mem.New(), Meta: md}
	return st, registry.New(st.Blobs, st.Meta, registry.Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func putBlob(t *testing.T, svc *registry.Service, repo string, data []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(data)
	if _, err := svc.PutBlob(context.Background(), repo, d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRelocate(t *testing.T) {
	ctx := context.Background()
	from, src := newStores(t)
	to, dst := newStores(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	layer := bytes.Repeat([]byte("layer bytes "), 1000)
	image := func(repo string) digest.Digest {
		cfg := putBlob(t, src, repo, []byte(`{"architecture":"amd64"}`))
		l := putBlob(t, src, repo, layer)
		body := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
			cfg.String() + `","size":24},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + l.String() + `","size":12000}]}`
		res, err := src.PutManifest(ctx, repo, registry.Reference{Tag: "v1"}, "application/vnd.oci.image.manifest.v1+json", []byte(body), []string{"latest"})
		if err != nil {
			t.Fatal(err)
		}
		return res.Digest
	}
	appDigest := image("team/app")
	image("team/other") // shares the layer: copied once, linked twice
	empty := putBlob(t, src, "team/app", []byte("{}"))
	sig := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` +
		empty.String() + `","size":2},"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + appDigest.String() + `","size":1}}`
	if _, err := src.PutManifest(ctx, "team/app", registry.Reference{Digest: digest.FromString(sig)}, "application/vnd.oci.image.manifest.v1+json", []byte(sig), nil); err != nil {
		t.Fatal(err)
	}

	// Accounts and projects: the destination made an admin of its own,
	// which the source's replaces.
	update := func(s meta.Store, fn func(tx meta.Tx) error) {
		t.Helper()
		if err := s.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	update(from.Meta, func(tx meta.Tx) error {
		for _, err := range []error{
			tx.CreateUser(meta.User{Name: "admin", PasswordHash: []byte("source-hash"), Admin: true}),
			tx.CreateUser(meta.User{Name: "dev", PasswordHash: []byte("dev-hash")}),
			tx.CreateProject(meta.Project{Name: "team"}),
			tx.PutMember(meta.Member{Project: "team", Kind: meta.MemberUser, Name: "dev", Role: "developer"}),
			tx.CreateRobot(meta.Robot{Name: "robot$team+ci", Project: "team", SecretHash: []byte("s"),
				Permissions: []meta.RobotPermission{{Repositories: "team/**", Actions: []string{"push"}}}}),
			tx.AddSigningKey(meta.SigningKey{ID: "k1", PrivateKey: []byte("pem")}),
			addRule(tx, meta.ImmutableRule{Project: "team", Repositories: "team/**", Tags: "v*"}),
			addRetentionRule(tx, meta.RetentionRule{Project: "team", Repositories: "team/**", Tags: "v*", Kind: meta.RetainLast, Count: 3}),
			addRetentionRule(tx, meta.RetentionRule{Project: "team", Repositories: "team/**", Tags: "**", Kind: meta.RemoveUntaggedAfter, Age: 7 * 24 * time.Hour}),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	update(to.Meta, func(tx meta.Tx) error {
		return tx.CreateUser(meta.User{Name: "admin", PasswordHash: []byte("destination-hash"), Admin: true})
	})

	rep, err := Run(ctx, from, to, log)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Users != 2 || rep.Projects != 2 || rep.Robots != 1 {
		t.Fatalf("report = %+v (want 2 users, 2 projects with library, 1 robot)", rep)
	}
	t.Run("accounts, members, robots and keys are copied", func(t *testing.T) {
		err := to.Meta.View(ctx, func(r meta.Reader) error {
			if u, err := r.User("admin"); err != nil || string(u.PasswordHash) != "source-hash" {
				t.Errorf("admin = %+v, %v; want the source's", u, err)
			}
			if ms, err := r.Members("team"); err != nil || len(ms) != 1 || ms[0].Name != "dev" || ms[0].Role != "developer" {
				t.Errorf("members of team = %+v, %v", ms, err)
			}
			if rb, err := r.Robot("robot$team+ci"); err != nil || len(rb.Permissions) != 1 || rb.Permissions[0].Repositories != "team/**" {
				t.Errorf("robot = %+v, %v", rb, err)
			}
			if ks, err := r.SigningKeys(); err != nil || len(ks) != 1 || ks[0].ID != "k1" {
				t.Errorf("signing keys = %+v, %v", ks, err)
			}
			if rs, err := r.ImmutableRules("team"); err != nil || len(rs) != 1 || rs[0].Tags != "v*" {
				t.Errorf("immutable rules = %+v, %v", rs, err)
			}
			if rs, err := r.RetentionRules("team"); err != nil || len(rs) != 2 || rs[0].Kind != meta.RetainLast || rs[0].Count != 3 ||
				rs[1].Kind != meta.RemoveUntaggedAfter || rs[1].Age != 7*24*time.Hour {
				t.Errorf("retention rules = %+v, %v", rs, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	if rep.Repositories != 2 || rep.Manifests != 3 || rep.Tags != 4 || rep.Blobs != 5 || rep.BlobsCopied != 3 { // both images share config and layer bytes
		t.Fatalf("report = %+v", rep)
	}

	t.Run("the destination serves what the source served", func(t *testing.T) {
		for _, repo := range []string{"team/app", "team/other"} {
			for _, tag := range []string{"v1", "latest"} {
				m, err := dst.GetManifest(ctx, repo, registry.Reference{Tag: tag})
				if err != nil {
					t.Fatalf("%s:%s: %v", repo, tag, err)
				}
				want, _ := src.GetManifest(ctx, repo, registry.Reference{Tag: tag})
				if m.Digest != want.Digest || !bytes.Equal(m.Content, want.Content) || m.MediaType != want.MediaType {
					t.Fatalf("%s:%s differs after relocation", repo, tag)
				}
			}
			rc, _, err := dst.OpenBlob(ctx, repo, digest.FromBytes(layer))
			if err != nil {
				t.Fatalf("layer in %s: %v", repo, err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, layer) {
				t.Fatalf("layer bytes in %s differ", repo)
			}
		}
		refs, err := dst.Referrers(ctx, "team/app", appDigest, "")
		if err != nil || len(refs) != 1 || refs[0].ArtifactType != "application/vnd.example.sig" {
			t.Fatalf("referrers after relocation = %+v, %v", refs, err)
		}
		page, err := dst.Catalog(ctx, "", -1, nil)
		if err != nil || strings.Join(page.Items, ",") != "team/app,team/other" {
			t.Fatalf("catalog = %v, %v", page.Items, err)
		}
	})
	t.Run("running again copies nothing new", func(t *testing.T) {
		again, err := Run(ctx, from, to, log)
		if err != nil {
			t.Fatal(err)
		}
		_ = to.Meta.View(ctx, func(r meta.Reader) error {
			if rs, err := r.ImmutableRules("team"); err != nil || len(rs) != 1 {
				t.Errorf("immutable rules after a rerun = %+v, %v (duplicated?)", rs, err)
			}
			if rs, err := r.RetentionRules("team"); err != nil || len(rs) != 2 {
				t.Errorf("retention rules after a rerun = %+v, %v (duplicated?)", rs, err)
			}
			return nil
		})
		if again.BlobsCopied != 0 || again.Manifests != 3 || again.Tags != 4 {
			t.Fatalf("second report = %+v", again)
		}
	})
}

func addRule(tx meta.Tx, r meta.ImmutableRule) error {
	_, err := tx.AddImmutableRule(r)
	return err
}

func addRetentionRule(tx meta.Tx, r meta.RetentionRule) error {
	_, err := tx.AddRetentionRule(r)
	return err
}
