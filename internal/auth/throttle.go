package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// ErrThrottled: too many failed logins for the user or from the address.
var ErrThrottled = errors.New("too many failed logins")

// ThrottledError is ErrThrottled with how long to wait.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%v; try again in %s", ErrThrottled, e.RetryAfter.Round(time.Second))
}

func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// Throttle limits failed logins: after Failures failures for one user name
// within Window (or AddressFactor times as many from one address), further
// attempts are refused for Lockout without even checking the password. The
// counts live in the metadata store, so every node of a cluster sees them.
// Failures 0 turns throttling off.
type Throttle struct {
	Failures      int
	AddressFactor int
	Window        time.Duration
	Lockout       time.Duration
}

func (th Throttle) on() bool { return th.Failures > 0 }

func (th Throttle) limit(key string) int {
	if len(key) > 5 && key[:5] == "addr:" {
		return th.Failures * max(th.AddressFactor, 1)
	}
	return th.Failures
}

func throttleKeys(name, addr string) []string {
	keys := []string{"user:" + name}
	if addr != "" {
		keys = append(keys, "addr:"+addr)
	}
	return keys
}

// blocked returns how long the user or address must still wait (0: not
// blocked), and whether the user has failures on record.
func (a *Authenticator) blocked(ctx context.Context, name, addr string, now time.Time) (time.Duration, bool, error) {
	var (
		wait    time.Duration
		pending bool
	)
	err := a.store.View(ctx, func(r meta.Reader) error {
		for _, k := range throttleKeys(name, addr) {
			lt, err := r.LoginThrottle(k)
			if errors.Is(err, meta.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if d := lt.BlockedUntil.Sub(now); d > wait {
				wait = d
			}
			if k[:5] == "user:" && lt.Failures > 0 {
				pending = true
			}
		}
		return nil
	})
	return wait, pending, err
}

// recordFailure counts a failed login against the user and the address.
func (a *Authenticator) recordFailure(ctx context.Context, name, addr string, now time.Time) error {
	th := a.throttle
	return a.store.Update(ctx, func(tx meta.Tx) error {
		for _, k := range throttleKeys(name, addr) {
			lt, err := tx.LoginThrottle(k)
			if errors.Is(err, meta.ErrNotFound) || (err == nil && now.Sub(lt.WindowStart) > th.Window) {
				lt, err = meta.LoginThrottle{Key: k, WindowStart: now, BlockedUntil: lt.BlockedUntil}, nil
			}
			if err != nil {
				return err
			}
			lt.Failures++
			if lt.Failures >= th.limit(k) {
				lt.BlockedUntil, lt.Failures, lt.WindowStart = now.Add(th.Lockout), 0, now
			}
			if err := tx.PutLoginThrottle(lt); err != nil {
				return err
			}
		}
		return nil
	})
}

// clearFailures forgets a user's failures after a successful login.
func (a *Authenticator) clearFailures(ctx context.Context, name string) error {
	return a.store.Update(ctx, func(tx meta.Tx) error { return tx.DeleteLoginThrottle("user:" + name) })
}

// PurgeThrottles removes records that no longer count (scheduled).
func (a *Authenticator) PurgeThrottles(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := a.store.Update(ctx, func(tx meta.Tx) error {
		var err error
		n, err = tx.DeleteLoginThrottlesBefore(now.Add(-a.throttle.Window))
		return err
	})
	return n, err
}
