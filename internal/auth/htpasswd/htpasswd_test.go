package htpasswd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// hash returns a fast bcrypt hash of password with the given prefix.
func hash(t testing.TB, password, prefix string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(h), "$2a$") {
		t.Fatalf("bcrypt made %q, want a $2a$ hash", h[:4])
	}
	return prefix + string(h[4:])
}

// logRecorder is a slog.Handler that keeps the messages it is given.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}

// count returns how many messages contain s.
func (l *logRecorder) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// replace writes content to a new file and renames it over path, as editors
// and configuration management do.
func replace(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	write(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	write(t, bad, "alice:"+hash(t, "pw", "$2y$")+"\nbob:$apr1$abcdefgh$i.qnDV/IFGp/8ThjVlBP01\n")
	tests := []struct {
		name string
		path string
		want []string
	}{
		{"missing", filepath.Join(dir, "nope"), []string{"nope", "no such file"}},
		{"directory", dir, []string{dir, "not a regular file"}},
		{"md5 hash", bad, []string{bad, "line 2", `user "bob"`, "$apr1$"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Open(tt.path)
			if err == nil {
				t.Fatalf("Open = %v, want an error", f)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "i.qnDV") {
				t.Errorf("error %q quotes a hash", err)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "htpasswd")
	write(t, path, strings.Join([]string{
		"# berth users",
		"alice:" + hash(t, "alice-pw", "$2y$"),
		"bob:" + hash(t, "bob-pw", "$2a$"),
		"carol:" + hash(t, "carol-pw", "$2b$"),
		"dave:" + xcryptHash,
		"erin:" + hash(t, "", "$2y$"),
		"frank:" + hash(t, strings.Repeat("f", 72), "$2y$"),
		"",
	}, "\n"))
	f, err := Open(path, WithReloadInterval(-1))
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != 6 || f.Path() != path {
		t.Fatalf("Len, Path = %d, %q; want 6, %q", f.Len(), f.Path(), path)
	}
	tests := []struct {
		name, user, password string
		ok                   bool
	}{
		{"$2y$ from Go, prefix rewritten", "alice", "alice-pw", true},
		{"$2a$", "bob", "bob-pw", true},
		{"$2b$ prefix rewritten", "carol", "carol-pw", true},
		{"$2y$ from libxcrypt", "dave", xcryptPassword, true},
		{"empty password", "erin", "", true},
		{"72-byte password", "frank", strings.Repeat("f", 72), true},
		{"bytes after the 72nd do not count", "frank", strings.Repeat("f", 72) + "extra", true},
		{"71 bytes of a 72-byte password", "frank", strings.Repeat("f", 71), false},
		{"wrong password", "alice", "bob-pw", false},
		{"password with a suffix", "alice", "alice-pw ", false},
		{"empty password for a user with one", "alice", "", false},
		{"password for an empty one", "erin", "x", false},
		{"user names are case-sensitive", "Alice", "alice-pw", false},
		{"unknown user", "mallory", "alice-pw", false},
		{"empty user", "", "", false},
		{"comment is no user", "# berth users", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.Authenticate(tt.user, tt.password)
			if tt.ok && err != nil {
				t.Errorf("Authenticate(%q) = %v, want success", tt.user, err)
			}
			if !tt.ok && !errors.Is(err, ErrBadCredentials) {
				t.Errorf("Authenticate(%q) = %v, want ErrBadCredentials", tt.user, err)
			}
		})
	}
}

func TestDummyHashHasTheUsualCost(t *testing.T) {
	h5 := xcryptHash
	h4 := hash(t, "pw", "$2y$")
	tests := []struct {
		name    string
		content string
		want    int
	}{
		{"no users", "# nobody\n", bcrypt.DefaultCost},
		{"one cost", "a:" + h4 + "\nb:" + h4 + "\n", bcrypt.MinCost},
		{"most users", "a:" + h4 + "\nb:" + h5 + "\nc:" + h5 + "\n", 5},
		{"tie takes the higher", "a:" + h4 + "\nb:" + h5 + "\n", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "htpasswd")
			write(t, path, tt.content)
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := bcrypt.Cost(f.cur.Load().dummy)
			if err != nil || got != tt.want {
				t.Errorf("dummy cost = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

// TestReload walks one file through the changes Authenticate must notice,
// looking at the file on every call.
func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "htpasswd")
	h1, h2, h3 := hash(t, "one", "$2y$"), hash(t, "two", "$2y$"), hash(t, "three", "$2y$")
	write(t, path, "alice:"+h1+"\n")
	logs := &logRecorder{}
	f, err := Open(path, WithReloadInterval(0), WithLogger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	steps := []struct {
		name   string
		change func(t *testing.T)
		ok     map[string]bool // "user:password" → want success
		logs   map[string]int  // message part → count so far
	}{
		{"unchanged", func(*testing.T) {},
			map[string]bool{"alice:one": true, "alice:two": false}, nil},
		{"edited in place, new size", func(t *testing.T) { write(t, path, "# new\nalice:"+h2+"\n") },
			map[string]bool{"alice:one": false, "alice:two": true}, map[string]int{"reloaded": 1}},
		{"edited in place, same size, new time", func(t *testing.T) {
			write(t, path, "# new\nalice:"+h3+"\n")
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
		}, map[string]bool{"alice:two": false, "alice:three": true}, map[string]int{"reloaded": 2}},
		{"renamed over, same size and time", func(t *testing.T) {
			replace(t, path, "# new\nalice:"+h1+"\n")
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
		}, map[string]bool{"alice:one": true, "alice:three": false}, map[string]int{"reloaded": 3}},
		{"invalid keeps the last good content", func(t *testing.T) { replace(t, path, "alice:{SHA}x\nbob:"+h2+"\n") },
			map[string]bool{"alice:one": true, "bob:two": false}, map[string]int{"invalid": 1, "reloaded": 3}},
		{"invalid again, changed: logged again", func(t *testing.T) { write(t, path, "alice:plain\nbob:"+h2+"\n") },
			map[string]bool{"alice:one": true, "bob:two": false}, map[string]int{"invalid": 2}},
		{"fixed", func(t *testing.T) { write(t, path, "bob:"+h2+"\n") },
			map[string]bool{"alice:one": false, "bob:two": true}, map[string]int{"invalid": 2, "reloaded": 4}},
		{"removed", func(t *testing.T) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, map[string]bool{"bob:two": false}, map[string]int{"removed": 1}},
		{"back, invalid", func(t *testing.T) { write(t, path, "bob:two\n") },
			map[string]bool{"bob:two": false}, map[string]int{"removed": 1, "invalid": 3}},
		{"back, valid", func(t *testing.T) { write(t, path, "carol:"+h3+"\n") },
			map[string]bool{"carol:three": true, "bob:two": false}, map[string]int{"reloaded": 5}},
		{"removed again", func(t *testing.T) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, map[string]bool{"carol:three": false}, map[string]int{"removed": 2}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change(t)
			// Several rounds: a problem must be logged once, not per call.
			for range 3 {
				for cred, want := range st.ok {
					user, pw, _ := strings.Cut(cred, ":")
					if err := f.Authenticate(user, pw); (err == nil) != want {
						t.Errorf("Authenticate(%q, %q) = %v, want success %v", user, pw, err, want)
					}
				}
			}
			for msg, want := range st.logs {
				if got := logs.count(msg); got != want {
					t.Errorf("%d log messages mention %q, want %d", got, msg, want)
				}
			}
		})
	}
}

func TestReloadInterval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "htpasswd")
	h1, h2 := hash(t, "one", "$2y$"), hash(t, "two", "$2y$")
	write(t, path, "alice:"+h1+"\n")
	tests := []struct {
		name    string
		opts    []Option
		advance []time.Duration // clock steps; the file changes after the first
		want    []string        // the password that works after each step
	}{
		{"not before the interval", []Option{WithReloadInterval(time.Minute)}, []time.Duration{0, 59 * time.Second, time.Second}, []string{"one", "one", "two"}},
		{"default interval", nil, []time.Duration{0, DefaultReloadInterval - time.Millisecond, time.Millisecond}, []string{"one", "one", "two"}},
		{"never", []Option{WithReloadInterval(-1)}, []time.Duration{0, time.Hour, 24 * time.Hour}, []string{"one", "one", "one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			write(t, path, "alice:"+h1+"\n")
			now := time.Now()
			opts := append(tt.opts, WithLogger(slog.New(&logRecorder{})), withClock(func() time.Time { return now }))
			f, err := Open(path, opts...)
			if err != nil {
				t.Fatal(err)
			}
			for i, d := range tt.advance {
				now = now.Add(d)
				if i == 1 {
					write(t, path, "# changed\nalice:"+h2+"\n")
				}
				if err := f.Authenticate("alice", tt.want[i]); err != nil {
					t.Errorf("step %d: password %q refused: %v", i, tt.want[i], err)
				}
			}
		})
	}
}

// TestConcurrentReload runs Authenticate from several goroutines while the
// file is rewritten, valid and invalid; run it with -race.
func TestConcurrentReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "htpasswd")
	ha, hb := hash(t, "a", "$2y$"), hash(t, "b", "$2y$")
	contents := []string{
		"alice:" + ha + "\n",
		"alice:" + hb + "\n# longer\n",
		"alice:{SHA}invalid\n",
	}
	write(t, path, contents[0])
	logs := &logRecorder{}
	f, err := Open(path, WithReloadInterval(0), WithLogger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if err := f.Authenticate("mallory", "a"); !errors.Is(err, ErrBadCredentials) {
					errs <- fmt.Errorf("goroutine %d: unknown user: %v", g, err)
					return
				}
				pw := []string{"a", "b"}[i%2]
				if err := f.Authenticate("alice", pw); err != nil && !errors.Is(err, ErrBadCredentials) {
					errs <- fmt.Errorf("goroutine %d: %v", g, err)
					return
				}
				_ = f.Len()
			}
		})
	}
	for i := range 60 {
		if i%2 == 0 {
			replace(t, path, contents[i%3])
		} else {
			write(t, path, contents[i%3])
		}
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	replace(t, path, contents[1])
	if err := f.Authenticate("alice", "b"); err != nil {
		t.Errorf("after the last write: %v", err)
	}
	if logs.count("reloaded") == 0 {
		t.Error("no reload logged while the file changed")
	}
}
