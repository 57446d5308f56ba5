package htpasswd

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// ErrBadCredentials is what Authenticate returns for an unknown user and for
// a wrong password alike.
var ErrBadCredentials = errors.New("htpasswd: bad user name or password")

// DefaultReloadInterval is how often, at most, Authenticate looks at the file
// for changes.
const DefaultReloadInterval = time.Second

// Option configures Open.
type Option func(*File)

// WithReloadInterval sets how often, at most, Authenticate looks at the file
// for changes. Zero looks on every call; a negative interval never does.
func WithReloadInterval(d time.Duration) Option {
	return func(f *File) { f.interval = d }
}

// WithLogger sets the logger reload problems and reloads are reported to;
// the default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(f *File) { f.log = l }
}

// withClock replaces time.Now; for tests.
func withClock(now func() time.Time) Option {
	return func(f *File) { f.now = now }
}

// File is a loaded htpasswd file. It is safe for concurrent use.
type File struct {
	path     string
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time

	cur       atomic.Pointer[snapshot]
	nextCheck atomic.Int64 // unix nanoseconds; no look at the file before

	mu      sync.Mutex  // serialises looks at the file; guards the fields below
	seen    os.FileInfo // the content last read, valid or not; nil when the file is missing
	missing bool        // the file was missing at the last look
	statErr string      // the stat error last logged
}

// snapshot is one valid content of the file.
type snapshot struct {
	users map[string][]byte
	dummy []byte // a hash nobody knows the password of, at the usual cost
}

// Open reads and validates the htpasswd file at path. A missing or invalid
// file is an error.
func Open(path string, opts ...Option) (*File, error) {
	f := &File{path: path, interval: DefaultReloadInterval, log: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(f)
	}
	snap, fi, err := f.read()
	if err != nil {
		return nil, err
	}
	f.cur.Store(snap)
	f.seen = fi
	f.nextCheck.Store(f.now().Add(f.interval).UnixNano())
	return f, nil
}

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Len returns the number of users in force.
func (f *File) Len() int { return len(f.cur.Load().users) }

// Authenticate checks user and password, reloading the file first if it is
// time to look at it and it has changed. It returns nil or
// ErrBadCredentials, and takes as long for an unknown user as for a wrong
// password.
func (f *File) Authenticate(user, password string) error {
	f.maybeReload()
	snap := f.cur.Load()
	hash, known := snap.users[user]
	if !known {
		hash = snap.dummy
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	if err != nil || !known {
		return ErrBadCredentials
	}
	return nil
}

// maybeReload looks at the file if the interval has passed since the last
// look. One caller looks; the others go on with the content in force.
func (f *File) maybeReload() {
	if f.interval < 0 {
		return
	}
	now := f.now().UnixNano()
	next := f.nextCheck.Load()
	if now < next || !f.nextCheck.CompareAndSwap(next, now+int64(f.interval)) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.look()
}

// look stats the file and reloads it if it changed. f.mu is held.
func (f *File) look() {
	fi, err := os.Stat(f.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !f.missing {
			f.missing, f.seen, f.statErr = true, nil, ""
			f.cur.Store(&snapshot{users: map[string][]byte{}, dummy: f.cur.Load().dummy})
			f.log.Warn("htpasswd file removed: no user can log in with a password until it is back", "path", f.path)
		}
		return
	case err != nil:
		if err.Error() != f.statErr {
			f.statErr = err.Error()
			f.log.Error("htpasswd file cannot be read; keeping its last valid content", "path", f.path, "err", err)
		}
		return
	}
	f.missing, f.statErr = false, ""
	if f.seen != nil && sameContent(f.seen, fi) {
		return
	}
	snap, readFi, err := f.read()
	if readFi != nil {
		f.seen = readFi
	} else {
		f.seen = fi
	}
	if err != nil {
		f.log.Error("htpasswd file changed but is invalid; keeping its last valid content", "path", f.path, "err", err)
		return
	}
	f.cur.Store(snap)
	f.log.Info("htpasswd file reloaded", "path", f.path, "users", len(snap.users))
}

// sameContent reports whether a and b describe the same file with the same
// size and modification time.
func sameContent(a, b os.FileInfo) bool {
	return a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && os.SameFile(a, b)
}

// read opens, stats and parses the file. The stat is taken before reading,
// so a write racing with the read shows up as a change at the next look.
func (f *File) read() (*snapshot, os.FileInfo, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, nil, fmt.Errorf("htpasswd: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("htpasswd: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fi, fmt.Errorf("htpasswd %s: not a regular file", f.path)
	}
	data, err := io.ReadAll(fh)
	if err != nil {
		return nil, fi, fmt.Errorf("htpasswd: %w", err)
	}
	entries, err := parse(f.path, data)
	if err != nil {
		return nil, fi, err
	}
	users := make(map[string][]byte, len(entries))
	costs := make(map[int]int)
	for u, e := range entries {
		users[u] = e.hash
		costs[e.cost]++
	}
	dummy, err := dummyHash(usualCost(costs))
	if err != nil {
		return nil, fi, err
	}
	return &snapshot{users: users, dummy: dummy}, fi, nil
}

// usualCost returns the cost most hashes have (the higher on a tie), or
// bcrypt.DefaultCost when there are none.
func usualCost(costs map[int]int) int {
	best, n := bcrypt.DefaultCost, 0
	for c, k := range costs {
		if k > n || (k == n && c > best) {
			best, n = c, k
		}
	}
	return best
}

var dummies struct {
	sync.Mutex
	byCost map[int][]byte
}

// dummyHash returns a bcrypt hash of a random password at cost, made once
// per cost and process.
func dummyHash(cost int) ([]byte, error) {
	dummies.Lock()
	defer dummies.Unlock()
	if h, ok := dummies.byCost[cost]; ok {
		return h, nil
	}
	h, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), cost)
	if err != nil {
		return nil, fmt.Errorf("htpasswd: dummy hash: %w", err)
	}
	if dummies.byCost == nil {
		dummies.byCost = make(map[int][]byte)
	}
	dummies.byCost[cost] = h
	return h, nil
}
