package sigpolicy

import "sync"

// verdict is the outcome of verifying one manifest under one policy.
type verdict struct {
	ok     bool
	by     string // what verified it (ok)
	reason string // why not (!ok)
}

// verdictCache keeps verdicts by key; when full, it drops about half of
// them (a verdict is cheap to compute again, so no LRU bookkeeping).
type verdictCache struct {
	mu  sync.Mutex
	max int
	m   map[string]verdict
}

func newVerdictCache(max int) *verdictCache {
	return &verdictCache{max: max, m: map[string]verdict{}}
}

func (c *verdictCache) get(key string) (verdict, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

func (c *verdictCache) put(key string, v verdict) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		n := 0
		for k := range c.m { // map order is random
			delete(c.m, k)
			if n++; n >= c.max/2+1 {
				break
			}
		}
	}
	c.m[key] = v
}

func (c *verdictCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
