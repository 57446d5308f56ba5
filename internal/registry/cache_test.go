package registry

import (
	"context"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

func TestManifestCache(t *testing.T) {
	m1 := meta.Manifest{Digest: digest.FromString("one"), Content: []byte("one")}
	m2 := meta.Manifest{Digest: digest.FromString("two"), Content: []byte("two")}
	tag := Reference{Tag: "v1"}
	tests := []struct {
		name    string
		steps   func(c *manifestCache)
		ref     Reference
		wantHit bool
		want    digest.Digest
	}{
		{"miss when empty", func(c *manifestCache) {}, tag, false, ""},
		{"hit after fill by tag", func(c *manifestCache) {
			_, g, _ := c.lookup("r", tag)
			c.fill("r", tag, m1, g)
		}, tag, true, m1.Digest},
		{"hit by digest after fill by tag", func(c *manifestCache) {
			_, g, _ := c.lookup("r", tag)
			c.fill("r", tag, m1, g)
		}, Reference{Digest: m1.Digest}, true, m1.Digest},
		{"other repository misses", func(c *manifestCache) {
			_, g, _ := c.lookup("other", tag)
			c.fill("other", tag, m1, g)
		}, tag, false, ""},
		{"a write between read and fill prevents the fill", func(c *manifestCache) {
			_, g, _ := c.lookup("r", tag)
			c.forgetTags("r", []string{"v1"})
			c.fill("r", tag, m1, g)
		}, tag, false, ""},
		{"moved tag is forgotten", func(c *manifestCache) {
			_, g, _ := c.lookup("r", tag)
			c.fill("r", tag, m1, g)
			c.forgetTags("r", []string{"v1"})
		}, tag, false, ""},
		{"refill after move", func(c *manifestCache) {
			_, g, _ := c.lookup("r", tag)
			c.fill("r", tag, m1, g)
			c.forgetTags("r", []string{"v1"})
			_, g, _ = c.lookup("r", tag)
			c.fill("r", tag, m2, g)
		}, tag, true, m2.Digest},
		{"deleted manifest and its tags are forgotten", func(c *manifestCache) {
			_, g, _ := c.lookup("r", tag)
			c.fill("r", tag, m1, g)
			c.forgetManifest("r", m1.Digest)
		}, tag, false, ""},
		{"over the size bound starts over", func(c *manifestCache) {
			_, g, _ := c.lookup("r", tag)
			c.fill("r", tag, m1, g)
			for i := range 5 { // 3 + 5*20 bytes > 100
				big := meta.Manifest{Digest: digest.FromString(strings.Repeat("x", i+1)), Content: []byte(strings.Repeat("x", 20))}
				c.fill("r", Reference{Tag: "big"}, big, g)
			}
		}, tag, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newManifestCache(100)
			tt.steps(c)
			m, _, hit := c.lookup("r", tt.ref)
			if hit != tt.wantHit || (hit && m.Digest != tt.want) {
				t.Fatalf("lookup = %s, %v; want %s, %v", m.Digest, hit, tt.want, tt.wantHit)
			}
		})
	}
	t.Run("disabled cache never hits", func(t *testing.T) {
		c := newManifestCache(0)
		c.fill("r", tag, m1, 0)
		if _, _, hit := c.lookup("r", tag); hit {
			t.Fatal("hit on a disabled cache")
		}
	})
}

func TestPullsSeeWritesThroughTheCache(t *testing.T) {
	ctx := context.Background()
	st := newStores(t)
	svc := st.service(Options{CacheSize: 1 << 20})
	cfg := pushBlob(t, svc, "r", []byte("{}"))
	manifest := func(annotation string) []byte {
		return []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
			cfg.String() + `","size":2},"layers":[],"annotations":{"n":"` + annotation + `"}}`)
	}
	push := func(body []byte) digest.Digest {
		res, err := svc.PutManifest(ctx, "r", Reference{Tag: "v1"}, "application/vnd.oci.image.manifest.v1+json", body, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Digest
	}
	pull := func() (digest.Digest, error) {
		m, err := svc.GetManifest(ctx, "r", Reference{Tag: "v1"})
		return m.Digest, err
	}
	first := push(manifest("1"))
	for range 2 { // the second pull is served from the cache
		if got, err := pull(); err != nil || got != first {
			t.Fatalf("pull = %s, %v; want %s", got, err, first)
		}
	}
	second := push(manifest("2"))
	if got, err := pull(); err != nil || got != second {
		t.Fatalf("after retag pull = %s, %v; want %s", got, err, second)
	}
	if err := svc.DeleteManifest(ctx, "r", Reference{Digest: second}); err != nil {
		t.Fatal(err)
	}
	if _, err := pull(); codeOf(err) != "MANIFEST_UNKNOWN" {
		t.Fatalf("after delete pull err = %v", err)
	}
}
