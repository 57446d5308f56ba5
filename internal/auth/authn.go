package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth-registry/berth/internal/meta"
)

var (
	// ErrBadCredentials: unknown account or wrong password or secret. The
	// two are never told apart.
	ErrBadCredentials = errors.New("invalid username or password")
	// ErrAccountDisabled: the credentials are right but the account is
	// disabled (or, for a robot, expired).
	ErrAccountDisabled = errors.New("account disabled or expired")
)

// PasswordChecker is an external source of users (an htpasswd file, a
// directory). Authenticate reports ok=false for an unknown user or a wrong
// password alike; groups are the directory groups the user belongs to.
type PasswordChecker interface {
	Authenticate(ctx context.Context, user, password string) (ok bool, groups []string, err error)
}

// Authenticator checks passwords and robot secrets.
type Authenticator struct {
	store    meta.Store
	external []PasswordChecker
	cache    *credCache
	dummy    []byte // a bcrypt hash compared against when there is no account
	throttle Throttle
	now      func() time.Time
}

// NewAuthenticator returns an Authenticator over the metadata store's users
// and robots, then each external checker in order. Verified credentials are
// remembered for cacheTTL (0 = not at all).
func NewAuthenticator(store meta.Store, cacheTTL time.Duration, external ...PasswordChecker) *Authenticator {
	dummy, err := bcrypt.GenerateFromPassword([]byte("berth-no-such-account"), bcrypt.DefaultCost)
	if err != nil {
		panic(err) // only fails for a password over 72 bytes
	}
	return &Authenticator{store: store, external: external, cache: newCredCache(cacheTTL), dummy: dummy, now: time.Now}
}

// maxNameLength bounds the login names looked up anywhere (a directory
// filter, the store).
const maxNameLength = 256

// SetThrottle turns failed-login throttling on (th.Failures > 0).
func (a *Authenticator) SetThrottle(th Throttle) { a.throttle = th }

// Password authenticates a user name (or robot name) and password.
func (a *Authenticator) Password(ctx context.Context, name, password string) (Identity, error) {
	return a.PasswordFrom(ctx, name, password, "")
}

// PasswordFrom is Password for a client at addr (for throttling; "" when
// unknown). A *ThrottledError refuses a user or address with too many
// recent failures before the password is even looked at.
func (a *Authenticator) PasswordFrom(ctx context.Context, name, password, addr string) (Identity, error) {
	key := a.cache.key(name, password)
	if id, ok := a.cache.get(key); ok {
		return id, nil
	}
	now := a.now()
	pending := false
	if a.throttle.on() {
		wait, p, err := a.blocked(ctx, name, addr, now)
		if err != nil {
			return Identity{}, fmt.Errorf("auth: login throttle: %w", err)
		}
		if wait > 0 {
			return Identity{}, &ThrottledError{RetryAfter: wait}
		}
		pending = p
	}
	id, err := a.verify(ctx, name, password)
	if a.throttle.on() {
		switch {
		case errors.Is(err, ErrBadCredentials):
			if rerr := a.recordFailure(ctx, name, addr, now); rerr != nil {
				return Identity{}, fmt.Errorf("auth: login throttle: %w", rerr)
			}
		case err == nil && pending:
			_ = a.clearFailures(ctx, name) // best effort: the window expires anyway
		}
	}
	if err != nil {
		return Identity{}, err
	}
	a.cache.put(key, id)
	return id, nil
}

func (a *Authenticator) verify(ctx context.Context, name, password string) (Identity, error) {
	if name == "" || password == "" || len(password) > 72 || len(name) > maxNameLength {
		return Identity{}, ErrBadCredentials
	}
	return a.check(ctx, name, password)
}

// Forget drops every cached credential (after a password change, a
// disabled account).
func (a *Authenticator) Forget() { a.cache.clear() }

func (a *Authenticator) check(ctx context.Context, name, password string) (Identity, error) {
	if IsRobotName(name) {
		return a.robot(ctx, name, password)
	}
	var (
		u     meta.User
		found bool
	)
	err := a.store.View(ctx, func(r meta.Reader) error {
		var err error
		u, err = r.User(name)
		if errors.Is(err, meta.ErrNotFound) {
			return nil
		}
		found = err == nil
		return err
	})
	if err != nil {
		return Identity{}, fmt.Errorf("auth: look up user: %w", err)
	}
	if found {
		if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(password)) != nil {
			return Identity{}, ErrBadCredentials
		}
		if u.Disabled {
			return Identity{}, ErrAccountDisabled
		}
		return Identity{Kind: KindUser, Name: u.Name, Admin: u.Admin}, nil
	}
	for _, ext := range a.external {
		ok, groups, err := ext.Authenticate(ctx, name, password)
		if err != nil {
			return Identity{}, fmt.Errorf("auth: %w", err)
		}
		if ok {
			return Identity{Kind: KindUser, Name: name, Groups: groups}, nil
		}
	}
	if len(a.external) == 0 {
		// Cost what a wrong password costs.
		_ = bcrypt.CompareHashAndPassword(a.dummy, []byte(password))
	}
	return Identity{}, ErrBadCredentials
}

func (a *Authenticator) robot(ctx context.Context, name, secret string) (Identity, error) {
	var rb meta.Robot
	err := a.store.View(ctx, func(r meta.Reader) error {
		var err error
		rb, err = r.Robot(name)
		return err
	})
	if errors.Is(err, meta.ErrNotFound) {
		_ = bcrypt.CompareHashAndPassword(a.dummy, []byte(secret))
		return Identity{}, ErrBadCredentials
	}
	if err != nil {
		return Identity{}, fmt.Errorf("auth: look up robot: %w", err)
	}
	if bcrypt.CompareHashAndPassword(rb.SecretHash, []byte(secret)) != nil {
		return Identity{}, ErrBadCredentials
	}
	if !robotActive(rb, time.Now()) {
		return Identity{}, ErrAccountDisabled
	}
	return Identity{Kind: KindRobot, Name: rb.Name}, nil
}

func robotActive(rb meta.Robot, now time.Time) bool {
	return !rb.Disabled && (rb.ExpiresAt.IsZero() || now.Before(rb.ExpiresAt))
}

// credCache remembers verified credentials under an HMAC of them (with a
// key made at start, so the cache holds nothing a stolen memory dump could
// be checked against offline more cheaply than bcrypt).
type credCache struct {
	ttl  time.Duration
	hkey []byte
	mu   sync.Mutex
	m    map[[32]byte]credEntry
}

type credEntry struct {
	id  Identity
	exp time.Time
}

// credCacheMax bounds the cache; when full it starts again empty.
const credCacheMax = 10000

func newCredCache(ttl time.Duration) *credCache {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &credCache{ttl: ttl, hkey: k, m: map[[32]byte]credEntry{}}
}

func (c *credCache) key(name, password string) [32]byte {
	h := hmac.New(sha256.New, c.hkey)
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

func (c *credCache) get(k [32]byte) (Identity, bool) {
	if c.ttl <= 0 {
		return Identity{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return Identity{}, false
	}
	if time.Now().After(e.exp) {
		delete(c.m, k)
		return Identity{}, false
	}
	return e.id, true
}

func (c *credCache) put(k [32]byte, id Identity) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= credCacheMax {
		clear(c.m)
	}
	c.m[k] = credEntry{id: id, exp: time.Now().Add(c.ttl)}
}

func (c *credCache) clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}
