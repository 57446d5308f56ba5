package sigpolicy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/blob/mem"
	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/registry"
)

// env is a registry service with a signature policy service over it.
type env struct {
	t     *testing.T
	reg   *registry.Service
	store meta.Store
	pol   *Service
	audit *recorded
}

type recorded struct {
	mu sync.Mutex
	ev []meta.AuditEvent
}

func (r *recorded) Record(e meta.AuditEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ev = append(r.ev, e)
}

func (r *recorded) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.ev {
		out = append(out, e.Action)
	}
	return out
}

func newEnv(t *testing.T) *env {
	t.Helper()
	md, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = md.Close() })
	blobs := mem.New()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := &env{t: t, store: md, audit: &recorded{}}
	e.reg = registry.New(blobs, md, registry.Options{}, log)
	e.pol = New(Options{Store: md, Blobs: blobs, Audit: e.audit, Log: log})
	for _, p := range []string{"prod", "dev"} {
		if err := md.Update(t.Context(), func(tx meta.Tx) error { return tx.CreateProject(meta.Project{Name: p}) }); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) blob(repo string, b []byte) ocispec.Descriptor {
	e.t.Helper()
	d := digest.FromBytes(b)
	if _, err := e.reg.PutBlob(e.t.Context(), repo, d, int64(len(b)), bytes.NewReader(b)); err != nil {
		e.t.Fatal(err)
	}
	return ocispec.Descriptor{Digest: d, Size: int64(len(b))}
}

// push stores a manifest (under tag, when given) and returns it.
func (e *env) push(repo, tag string, v any) meta.Manifest {
	e.t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	mt := ocispec.MediaTypeImageManifest
	if _, ok := v.(ocispec.Index); ok {
		mt = ocispec.MediaTypeImageIndex
	}
	ref := registry.Reference{Tag: tag}
	if tag == "" {
		ref = registry.Reference{Digest: digest.FromBytes(body)}
	}
	if _, err := e.reg.PutManifest(e.t.Context(), repo, ref, mt, body, nil); err != nil {
		e.t.Fatalf("push %s %s: %v", repo, ref, err)
	}
	m, err := e.reg.GetManifest(e.t.Context(), repo, registry.Reference{Digest: digest.FromBytes(body)})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// image pushes a one-layer image.
func (e *env) image(repo, tag, seed string) meta.Manifest {
	cfg := e.blob(repo, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"x":"`+seed+`"}`))
	cfg.MediaType = ocispec.MediaTypeImageConfig
	layer := e.blob(repo, []byte("layer "+seed))
	layer.MediaType = ocispec.MediaTypeImageLayer
	return e.push(repo, tag, ocispec.Manifest{Versioned: specsV2, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}})
}

var specsV2 = specs.Versioned{SchemaVersion: 2}

type key struct {
	priv *ecdsa.PrivateKey
	pem  string
}

func newKey(t *testing.T) key {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return key{k, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
}

// cosignSign stores a cosign tag-scheme signature of m made with k (as
// `cosign sign --key` does: a simple-signing payload layer whose
// annotation holds the signature).
func (e *env) cosignSign(repo string, m meta.Manifest, k key) meta.Manifest {
	e.t.Helper()
	payload := fmt.Sprintf(`{"critical":{"identity":{"docker-reference":"x/%s"},"image":{"docker-manifest-digest":"%s"},"type":"cosign container image signature"},"optional":null}`, repo, m.Digest)
	h := sha256.Sum256([]byte(payload))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, h[:])
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := e.blob(repo, []byte(`{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}`))
	cfg.MediaType = ocispec.MediaTypeImageConfig
	l := e.blob(repo, []byte(payload))
	l.MediaType = cosignSimpleSigning
	l.Annotations = map[string]string{cosignSigAnnotation: base64.StdEncoding.EncodeToString(sig)}
	tag := strings.Replace(m.Digest.String(), ":", "-", 1) + ".sig"
	return e.push(repo, tag, ocispec.Manifest{Versioned: specsV2, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{l}})
}

func (e *env) policy(p meta.SignaturePolicy) meta.SignaturePolicy {
	e.t.Helper()
	got, err := e.pol.Add(e.t.Context(), p)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

func denied(err error) bool {
	var ce *errcode.Error
	return errors.As(err, &ce) && ce.Code == errcode.Denied
}

func TestAdmitPull(t *testing.T) {
	ctx := context.Background()
	never := func() bool { return false }
	t.Run("no policy: everything", func(t *testing.T) {
		e := newEnv(t)
		m := e.image("dev/app", "v1", "a")
		if err := e.pol.AdmitPull(ctx, "dev/app", m, never); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("enforced: unsigned refused, signed by a trusted key admitted, another key refused", func(t *testing.T) {
		e := newEnv(t)
		trusted, other := newKey(t), newKey(t)
		pol := e.policy(meta.SignaturePolicy{Project: "prod", Keys: trusted.pem})
		m := e.image("prod/app", "v1", "a")
		err := e.pol.AdmitPull(ctx, "prod/app", m, never)
		if !denied(err) || !strings.Contains(err.Error(), "not signed by a trusted key for project prod") ||
			!strings.Contains(err.Error(), fmt.Sprintf("signature policy %d", pol.ID)) || !strings.Contains(err.Error(), "no signature found") {
			t.Fatalf("unsigned: %v", err)
		}
		e.cosignSign("prod/app", m, other)
		if err := e.pol.AdmitPull(ctx, "prod/app", m, never); !denied(err) || !strings.Contains(err.Error(), "none valid") {
			t.Fatalf("signed by another key: %v", err)
		}
		e.cosignSign("prod/app", m, trusted) // the tag moves to the new signature
		if err := e.pol.AdmitPull(ctx, "prod/app", m, never); err != nil {
			t.Fatalf("signed by the trusted key: %v", err)
		}
		if got := e.audit.actions(); strings.Join(got, ",") != "signature.denied,signature.denied" {
			t.Errorf("audit %v", got)
		}
		// The signature itself stays pullable.
		sig, err := e.reg.GetManifest(ctx, "prod/app", registry.Reference{Tag: strings.Replace(m.Digest.String(), ":", "-", 1) + ".sig"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.pol.AdmitPull(ctx, "prod/app", sig, never); err != nil {
			t.Fatalf("the signature manifest: %v", err)
		}
	})
	t.Run("a caller pushing to the repository is let through, unrecorded", func(t *testing.T) {
		e := newEnv(t)
		e.policy(meta.SignaturePolicy{Project: "prod", Keys: newKey(t).pem})
		m := e.image("prod/app", "v1", "a")
		if err := e.pol.AdmitPull(ctx, "prod/app", m, func() bool { return true }); err != nil {
			t.Fatal(err)
		}
		if got := e.audit.actions(); len(got) != 0 {
			t.Errorf("audit %v", got)
		}
	})
	t.Run("dry run: admitted, recorded", func(t *testing.T) {
		e := newEnv(t)
		e.policy(meta.SignaturePolicy{Project: "prod", Keys: newKey(t).pem, DryRun: true})
		m := e.image("prod/app", "v1", "a")
		if err := e.pol.AdmitPull(ctx, "prod/app", m, never); err != nil {
			t.Fatal(err)
		}
		if got := e.audit.actions(); len(got) != 1 || got[0] != "signature.would_deny" {
			t.Errorf("audit %v", got)
		}
	})
	t.Run("an index signed as a whole admits its children, not others", func(t *testing.T) {
		e := newEnv(t)
		k := newKey(t)
		e.policy(meta.SignaturePolicy{Project: "prod", Keys: k.pem})
		amd, arm, loose := e.image("prod/app", "", "amd"), e.image("prod/app", "", "arm"), e.image("prod/app", "", "loose")
		desc := func(m meta.Manifest) ocispec.Descriptor {
			return ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size}
		}
		idx := e.push("prod/app", "v1", ocispec.Index{Versioned: specsV2, MediaType: ocispec.MediaTypeImageIndex,
			Manifests: []ocispec.Descriptor{desc(amd), desc(arm)}})
		if err := e.pol.AdmitPull(ctx, "prod/app", arm, never); !denied(err) {
			t.Fatalf("child of an unsigned index: %v", err)
		}
		e.cosignSign("prod/app", idx, k)
		for name, m := range map[string]meta.Manifest{"index": idx, "amd64": amd, "arm64": arm} {
			if err := e.pol.AdmitPull(ctx, "prod/app", m, never); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if err := e.pol.AdmitPull(ctx, "prod/app", loose, never); !denied(err) {
			t.Errorf("a manifest outside the index: %v", err)
		}
	})
	t.Run("the longest matching pattern governs", func(t *testing.T) {
		e := newEnv(t)
		web, all := newKey(t), newKey(t)
		e.policy(meta.SignaturePolicy{Project: "prod", Keys: all.pem})
		e.policy(meta.SignaturePolicy{Project: "prod", Repositories: "prod/web/**", Keys: web.pem})
		w, api := e.image("prod/web/ui", "v1", "w"), e.image("prod/api", "v1", "a")
		e.cosignSign("prod/web/ui", w, web)
		e.cosignSign("prod/api", api, web)
		if err := e.pol.AdmitPull(ctx, "prod/web/ui", w, never); err != nil {
			t.Errorf("prod/web/ui signed with the web key: %v", err)
		}
		if err := e.pol.AdmitPull(ctx, "prod/api", api, never); !denied(err) {
			t.Errorf("prod/api signed with the web key only: %v", err)
		}
	})
	t.Run("a changed policy decides again (cached verdicts are per version)", func(t *testing.T) {
		e := newEnv(t)
		a, b := newKey(t), newKey(t)
		pol := e.policy(meta.SignaturePolicy{Project: "prod", Keys: a.pem})
		m := e.image("prod/app", "v1", "a")
		e.cosignSign("prod/app", m, a)
		if err := e.pol.AdmitPull(ctx, "prod/app", m, never); err != nil {
			t.Fatal(err)
		}
		if _, err := e.pol.Update(ctx, pol.ID, Patch{Keys: &b.pem}); err != nil {
			t.Fatal(err)
		}
		if err := e.pol.AdmitPull(ctx, "prod/app", m, never); !denied(err) {
			t.Fatalf("after the key changed: %v", err)
		}
		if err := e.pol.Delete(ctx, pol.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.pol.AdmitPull(ctx, "prod/app", m, never); err != nil {
			t.Fatalf("after the policy was deleted: %v", err)
		}
	})
}

func TestValidate(t *testing.T) {
	k := newKey(t)
	for _, tc := range []struct {
		name string
		p    meta.SignaturePolicy
		want string // "" valid
	}{
		{"key", meta.SignaturePolicy{Project: "prod", Keys: k.pem}, ""},
		{"pattern in the project", meta.SignaturePolicy{Project: "prod", Repositories: "prod/web/**", Keys: k.pem}, ""},
		{"no project", meta.SignaturePolicy{Keys: k.pem}, "a project is required"},
		{"no trust material", meta.SignaturePolicy{Project: "prod"}, "give cosign public keys"},
		{"junk key", meta.SignaturePolicy{Project: "prod", Keys: "not a key"}, "keys"},
		{"pattern outside the project", meta.SignaturePolicy{Project: "prod", Repositories: "dev/**", Keys: k.pem}, "outside project prod"},
		{"bad pattern", meta.SignaturePolicy{Project: "prod", Repositories: "prod/[a]", Keys: k.pem}, "repositories"},
		{"identity without certificates", meta.SignaturePolicy{Project: "prod", Keys: k.pem, Identities: []string{"x509.subject: CN=a"}}, "give certificates too"},
		{"identity of another form", meta.SignaturePolicy{Project: "prod", Keys: k.pem, Certificates: k.pem, Identities: []string{"CN=a"}}, "x509.subject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.p)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate = %v, want ErrInvalid saying %q", err, tc.want)
			}
		})
	}
}

func TestIsArtifact(t *testing.T) {
	man := func(types ...string) []byte {
		var ls []ocispec.Descriptor
		for _, mt := range types {
			ls = append(ls, ocispec.Descriptor{MediaType: mt, Digest: digest.FromString(mt), Size: 1})
		}
		b, _ := json.Marshal(ocispec.Manifest{Versioned: specsV2, Layers: ls})
		return b
	}
	for _, tc := range []struct {
		name string
		m    meta.Manifest
		want bool
	}{
		{"image", meta.Manifest{Content: man(ocispec.MediaTypeImageLayerGzip)}, false},
		{"cosign signature", meta.Manifest{Content: man(cosignSimpleSigning)}, true},
		{"attestation", meta.Manifest{Content: man("application/vnd.dsse.envelope.v1+json")}, true},
		{"sbom", meta.Manifest{Content: man("text/spdx+json")}, true},
		{"mixed", meta.Manifest{Content: man(cosignSimpleSigning, ocispec.MediaTypeImageLayer)}, false},
		{"referrer", meta.Manifest{Subject: digest.FromString("x"), Content: man(ocispec.MediaTypeImageLayer)}, true},
		{"no layers", meta.Manifest{Content: man()}, false},
		{"junk", meta.Manifest{Content: []byte("{")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isArtifact(tc.m); got != tc.want {
				t.Fatalf("isArtifact = %v, want %v", got, tc.want)
			}
		})
	}
}
