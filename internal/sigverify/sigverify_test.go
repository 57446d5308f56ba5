package sigverify

import (
	"context"
	"crypto/x509"
	"strings"
	"sync"
	"testing"

	"github.com/notaryproject/notation-core-go/signature/jws"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestNew(t *testing.T) {
	roots, _ := testRoot(t, "a", testSubject)
	// A leaf that is neither a CA nor self-signed.
	chain, _, _ := testCAChain(t, "a", testSubject)
	leaf := chain[0]

	cases := []struct {
		name string
		tr   Trust
		err  string
	}{
		{name: "keys only", tr: Trust{Keys: pubKeys(t, "p256", "ed25519")}},
		{name: "roots only", tr: Trust{Roots: roots}},
		{name: "both with identity", tr: Trust{Keys: pubKeys(t, "p256"), Roots: roots,
			Identities: []string{"x509.subject: CN=berth-test, O=Berth, ST=WA, C=US"}}},
		{name: "nothing", tr: Trust{}, err: "at least one"},
		{name: "identities without roots", tr: Trust{Keys: pubKeys(t, "p256"), Identities: []string{"*"}}, err: "without any root"},
		{name: "weak rsa key", tr: Trust{Keys: pubKeys(t, "rsa1024")}, err: "key 1: unsupported key"},
		{name: "p224 key", tr: Trust{Keys: pubKeys(t, "p256", "p224")}, err: "key 2: unsupported key"},
		{name: "nil key", tr: Trust{Keys: pubKeys(t, "p256")[:0:0], Roots: nil}, err: "at least one"},
		{name: "leaf root", tr: Trust{Roots: []*x509.Certificate{leaf}}, err: "not a CA certificate"},
		{name: "identity without separator", tr: Trust{Roots: roots, Identities: []string{"CN=x"}}, err: "missing separator"},
		{name: "identity not a DN", tr: Trust{Roots: roots, Identities: []string{"x509.subject: ???"}}, err: "trusted identity"},
		{name: "identity without C, ST, O", tr: Trust{Roots: roots, Identities: []string{"x509.subject: CN=berth-test, O=Berth"}}, err: "mandatory RDN attribute"},
		{name: "identity and wildcard", tr: Trust{Roots: roots, Identities: []string{"*", "x509.subject: CN=a, O=b, ST=c, C=US"}}, err: "wildcard"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := New(c.tr)
			if c.err == "" {
				if err != nil || v == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("want error mentioning %q, got %v", c.err, err)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	// One Verifier serves many pulls at once; run with -race.
	want := digestOf("manifest")
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: want, Size: 8}
	roots, key := testRoot(t, "p256-conc", testSubject)
	simple := simplePayload(t, want)
	sig := cosignSign(t, "p256", simple)
	b := dsseBundle(t, "p256", want)
	env := notationSign(t, key, roots, desc, jws.MediaTypeEnvelope)
	v := newVerifier(t, Trust{Keys: append(pubKeys(t, "p256"), bundleKeyPubs(t, "p256")...), Roots: roots})

	var wg sync.WaitGroup
	errs := make(chan error, 3*8)
	for range 8 {
		wg.Add(3)
		go func() { defer wg.Done(); errs <- v.CosignSimple(simple, sig, want) }()
		go func() { defer wg.Done(); errs <- v.CosignBundle(b, want) }()
		go func() { defer wg.Done(); errs <- v.Notation(context.Background(), env, jws.MediaTypeEnvelope, desc) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent verification failed: %v", err)
		}
	}
}
