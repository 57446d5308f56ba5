//go:build linux

package fs

import (
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// coldTestFile writes n random bytes to a file under dir and drops them
// from the page cache; it skips the test where the cache keeps them (tmpfs).
func coldTestFile(t *testing.T, dir string, n int) *os.File {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	path := filepath.Join(dir, "cold-test")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, int64(n), unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if got := cachedFraction(f, int64(n)); got > 0.1 {
		t.Skipf("the page cache under %s keeps %.0f%% of a file after FADV_DONTNEED", dir, got*100)
	}
	return f
}

// waitCached waits up to 10 s for the page cache to hold at least want of f.
func waitCached(f *os.File, size int64, want float64) float64 {
	var got float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = cachedFraction(f, size); got >= want {
			break
		}
	}
	return got
}

// TestWarmReadsWholeBlob: warm reads all of a file into the page cache, not
// just the first readahead window (the kernel's cap on one WILLNEED).
func TestWarmReadsWholeBlob(t *testing.T) {
	const size = 40 << 20
	f := coldTestFile(t, t.TempDir(), size)
	warm(f, size)
	if got := waitCached(f, size, 0.99); got < 0.99 {
		t.Errorf("the page cache holds %.0f%% of the file after warm, want all of it", got*100)
	}
}

// TestSecondColdSendWarms: a blob sent cold once stays out of the page
// cache; sent cold again, it is read into the cache in the background.
func TestSecondColdSendWarms(t *testing.T) {
	const size = 24 << 20
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := coldTestFile(t, dir, size)
	d, err := openDirectRead(f.Name())
	if err != nil {
		t.Skipf("the filesystem under %s takes no O_DIRECT: a cold send goes through the cache", dir)
	}
	d.Close()
	send := func() {
		t.Helper()
		c := &coldFile{File: f, size: size, store: s}
		if _, err := c.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if n, err := c.SendTo(io.Discard, size); err != nil || n != size {
			t.Fatalf("SendTo = %d, %v", n, err)
		}
	}
	send()
	time.Sleep(300 * time.Millisecond)
	if got := cachedFraction(f, size); got > 0.5 {
		t.Fatalf("the page cache holds %.0f%% of a blob sent cold once, want it left out", got*100)
	}
	send()
	if got := waitCached(f, size, 0.99); got < 0.99 {
		t.Errorf("the page cache holds %.0f%% of a blob sent cold twice, want all of it", got*100)
	}
}

func TestSentColdBefore(t *testing.T) {
	s := &Store{}
	t0 := time.Now()
	steps := []struct {
		name string
		path string
		at   time.Duration
		want bool
	}{
		{"first send", "a", 0, false},
		{"another blob", "b", time.Second, false},
		{"second send within the window", "a", coldRepeat, true},
		{"third send starts over", "a", coldRepeat + time.Second, false},
		{"after the window", "b", coldRepeat + 2*time.Second, false},
		{"then within it again", "b", coldRepeat + 3*time.Second, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if got := s.sentColdBefore(st.path, t0.Add(st.at)); got != st.want {
				t.Errorf("sentColdBefore(%q, +%v) = %v, want %v", st.path, st.at, got, st.want)
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		s := &Store{}
		for i := range coldSeenMax + 10 {
			s.sentColdBefore(string(rune('a'+i%26))+time.Duration(i).String(), t0)
		}
		if n := len(s.coldSeen); n > coldSeenMax {
			t.Errorf("%d blobs remembered, want at most %d", n, coldSeenMax)
		}
	})
}
