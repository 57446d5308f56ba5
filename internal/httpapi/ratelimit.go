package httpapi

import (
	"net/netip"
	"sync"
	"time"
)

// rateLimiter is a token bucket per client address: rate requests a second
// on average, bursts of burst. Buckets idle long enough to be full again
// are dropped when the map grows.
type rateLimiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// rateLimiterSweep is the number of buckets above which idle ones are
// dropped.
const rateLimiterSweep = 10000

func newRateLimiter(rate float64, burst int) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(max(burst, 1)), now: time.Now, buckets: map[netip.Addr]*bucket{}}
}

// allow takes a token for addr; when there is none it returns how long
// until there is.
func (l *rateLimiter) allow(addr netip.Addr) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[addr]
	if !ok {
		if len(l.buckets) >= rateLimiterSweep {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[addr] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

func (l *rateLimiter) sweep(now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for a, b := range l.buckets {
		if now.Sub(b.last) > full {
			delete(l.buckets, a)
		}
	}
}
