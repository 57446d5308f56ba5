package app

import (
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
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// cosignSignature pushes, as `cosign sign --key` does, a signature of
// digest in repo made with k: the sha256-<hex>.sig tag.
func cosignSignature(t *testing.T, host, repo, dgst string, k *ecdsa.PrivateKey) {
	t.Helper()
	payload := fmt.Sprintf(`{"critical":{"identity":{"docker-reference":"%s/%s"},"image":{"docker-manifest-digest":"%s"},"type":"cosign container image signature"},"optional":null}`, host, repo, dgst)
	h := sha256.Sum256([]byte(payload))
	sig, err := ecdsa.SignASN1(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:       static.NewLayer([]byte(payload), "application/vnd.dev.cosign.simplesigning.v1+json"),
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig)},
	})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	if err := remote.Write(mustRef(t, host+"/"+repo+":"+strings.Replace(dgst, ":", "-", 1)+".sig"), img, asAdmin); err != nil {
		t.Fatal(err)
	}
}

func publicPEM(t *testing.T, k *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// deniedByPolicy reports whether err is the registry's DENIED naming
// the signature policy.
func deniedByPolicy(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusForbidden {
		return false
	}
	for _, d := range te.Errors {
		if d.Code == transport.DeniedErrorCode && strings.Contains(d.Message, "not signed by a trusted key for project prod") {
			return true
		}
	}
	return false
}

// TestSignaturePolicy: a policy on a project refuses pulls (GET) of an
// unsigned image, with a pull-only token as docker's; a HEAD and a
// signer's push token still get through; a signature by the trusted key
// admits it; dry run admits and says why; the policy goes with the API.
func TestSignaturePolicy(t *testing.T) {
	host := newServer(t)
	base := "http://" + host
	trusted, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	img, _ := random.Image(2048, 2)
	if err := remote.Write(mustRef(t, host+"/prod/app:v1"), img, asAdmin); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	body, _ := json.Marshal(map[string]any{"project": "prod", "keys": publicPEM(t, trusted)})
	var pol struct {
		ID      int64  `json:"id"`
		Mode    string `json:"mode"`
		Version int64  `json:"version"`
	}
	if code := apiCall(t, base, "admin", testAdminPassword, "POST", "/signature-policies", string(body), &pol); code != http.StatusCreated || pol.Mode != "enforce" {
		t.Fatalf("add policy = %d %+v", code, pol)
	}
	// The cluster's account: it may pull, not push (who may push is not
	// held to the policy: a signer fetches what it signs).
	if code := apiCall(t, base, "admin", testAdminPassword, "POST", "/users", `{"name":"kubelet","password":"pull-only-pw"}`, nil); code != http.StatusCreated {
		t.Fatalf("create user = %d", code)
	}
	if code := apiCall(t, base, "admin", testAdminPassword, "PUT", "/projects/prod/members/user/kubelet", `{"role":"guest"}`, nil); code != http.StatusOK {
		t.Fatalf("member = %d", code)
	}
	asReader := remote.WithAuth(&authn.Basic{Username: "kubelet", Password: "pull-only-pw"})
	pull := func() error { _, err := remote.Get(mustRef(t, host+"/prod/app:v1"), asReader); return err }

	t.Run("unsigned: GET refused, HEAD answered", func(t *testing.T) {
		if err := pull(); !deniedByPolicy(err) {
			t.Fatalf("pull of an unsigned image: %v", err)
		}
		if _, err := remote.Head(mustRef(t, host+"/prod/app:v1"), asReader); err != nil {
			t.Fatalf("HEAD: %v", err)
		}
	})
	t.Run("who may push (a signer) gets the manifest", func(t *testing.T) {
		if _, err := remote.Get(mustRef(t, host+"/prod/app:v1"), asAdmin); err != nil {
			t.Fatalf("admin: %v", err)
		}
	})
	t.Run("signed by another key: refused; by the trusted key: pulled", func(t *testing.T) {
		cosignSignature(t, host, "prod/app", d.String(), other)
		if err := pull(); !deniedByPolicy(err) {
			t.Fatalf("signed by another key: %v", err)
		}
		cosignSignature(t, host, "prod/app", d.String(), trusted)
		if err := pull(); err != nil {
			t.Fatalf("signed by the trusted key: %v", err)
		}
	})
	t.Run("evaluate says why; dry run admits what it would refuse", func(t *testing.T) {
		unsigned, _ := random.Image(1024, 1)
		if err := remote.Write(mustRef(t, host+"/prod/app:v2"), unsigned, asAdmin); err != nil {
			t.Fatal(err)
		}
		var dec struct {
			Policy   int64  `json:"policy"`
			Allowed  bool   `json:"allowed"`
			Verified bool   `json:"verified"`
			By       string `json:"by"`
			Reason   string `json:"reason"`
		}
		if code := apiCall(t, base, "admin", testAdminPassword, "GET", "/signature-policies/evaluate?repository=prod/app&reference=v1", "", &dec); code != 200 ||
			!dec.Allowed || !dec.Verified || !strings.Contains(dec.By, "cosign signature") || dec.Policy != pol.ID {
			t.Errorf("evaluate v1 = %d %+v", code, dec)
		}
		if code := apiCall(t, base, "admin", testAdminPassword, "GET", "/signature-policies/evaluate?repository=prod/app&reference=v2", "", &dec); code != 200 ||
			dec.Allowed || dec.Verified || dec.Reason != "no signature found" {
			t.Errorf("evaluate v2 = %d %+v", code, dec)
		}
		if code := apiCall(t, base, "admin", testAdminPassword, "PATCH", fmt.Sprintf("/signature-policies/%d", pol.ID), `{"mode":"dry-run"}`, &pol); code != 200 || pol.Mode != "dry-run" || pol.Version != 2 {
			t.Fatalf("to dry run = %d %+v", code, pol)
		}
		if _, err := remote.Get(mustRef(t, host+"/prod/app:v2"), asReader); err != nil {
			t.Fatalf("dry run refused: %v", err)
		}
		var page auditPage
		if code := apiCall(t, base, "admin", testAdminPassword, "GET", "/audit?action=signature.would_deny", "", &page); code != 200 {
			t.Fatalf("audit = %d", code)
		}
		waitFor(t, 10e9, "the would-deny audit event", func() bool {
			apiCall(t, base, "admin", testAdminPassword, "GET", "/audit?action=signature.would_deny", "", &page)
			return hasAction(page, "signature.would_deny")
		})
	})
	t.Run("bad requests are 400 with a message", func(t *testing.T) {
		for _, body := range []string{
			`{"project":"prod","repositories":"prod/x/**","keys":"junk"}`,
			`{"project":"prod","repositories":"dev/**","keys":` + strings.ReplaceAll(fmt.Sprintf("%q", publicPEM(t, other)), "\\n", "\\n") + `}`,
			`{"project":"prod","repositories":"prod/y/**","mode":"sometimes","keys":"x"}`,
		} {
			if code := apiCall(t, base, "admin", testAdminPassword, "POST", "/signature-policies", body, nil); code != http.StatusBadRequest {
				t.Errorf("POST %s = %d, want 400", body, code)
			}
		}
		if code := apiCall(t, base, "admin", testAdminPassword, "POST", "/signature-policies", string(body), nil); code != http.StatusConflict {
			t.Errorf("a second whole-project policy = %d, want 409", code)
		}
	})
}
