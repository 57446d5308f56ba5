package registry

import (
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// manifestCache keeps recently pulled manifests and tag resolutions in
// memory, so a pull by tag skips the metadata index. It is only correct
// while this process sees every write (the embedded deployment); writes
// through the service invalidate it.
//
// A read that misses records the generation before it asks the index and
// fills the cache only if no write happened in between, so a slow reader can
// never put back a value a concurrent write replaced.
type manifestCache struct {
	mu       sync.RWMutex
	gen      uint64
	maxBytes int64
	bytes    int64
	byDigest map[string]meta.Manifest // repo + "@" + digest
	byTag    map[string]digest.Digest // repo + ":" + tag
}

func newManifestCache(maxBytes int64) *manifestCache {
	if maxBytes <= 0 {
		return nil
	}
	return &manifestCache{maxBytes: maxBytes, byDigest: map[string]meta.Manifest{}, byTag: map[string]digest.Digest{}}
}

// lookup returns the cached manifest for ref and the generation to pass to
// fill on a miss.
func (c *manifestCache) lookup(repo string, ref Reference) (meta.Manifest, uint64, bool) {
	if c == nil {
		return meta.Manifest{}, 0, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	d := ref.Digest
	if d == "" {
		var ok bool
		if d, ok = c.byTag[repo+":"+ref.Tag]; !ok {
			return meta.Manifest{}, c.gen, false
		}
	}
	m, ok := c.byDigest[repo+"@"+string(d)]
	return m, c.gen, ok
}

// fill stores what a miss read from the index, unless a write came since gen.
func (c *manifestCache) fill(repo string, ref Reference, m meta.Manifest, gen uint64) {
	if c == nil || int64(len(m.Content)) > c.maxBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	k := repo + "@" + string(m.Digest)
	if _, ok := c.byDigest[k]; !ok {
		if c.bytes+int64(len(m.Content)) > c.maxBytes {
			c.reset()
		}
		c.byDigest[k] = m
		c.bytes += int64(len(m.Content))
	}
	if ref.Tag != "" {
		c.byTag[repo+":"+ref.Tag] = m.Digest
	}
}

// forgetTags drops the resolutions of tags a write moved or removed.
func (c *manifestCache) forgetTags(repo string, tags []string) {
	if c == nil || len(tags) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, t := range tags {
		delete(c.byTag, repo+":"+t)
	}
}

// forgetManifest drops a deleted manifest and every tag resolving to it.
func (c *manifestCache) forgetManifest(repo string, d digest.Digest) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	k := repo + "@" + string(d)
	if m, ok := c.byDigest[k]; ok {
		c.bytes -= int64(len(m.Content))
		delete(c.byDigest, k)
	}
	prefix := repo + ":"
	for t, td := range c.byTag {
		if td == d && len(t) > len(prefix) && t[:len(prefix)] == prefix {
			delete(c.byTag, t)
		}
	}
}

func (c *manifestCache) reset() {
	clear(c.byDigest)
	clear(c.byTag)
	c.bytes = 0
}
