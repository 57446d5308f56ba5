package fs

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// coldMin is the size from which Open asks how much of a blob the page
// cache holds: below it a cold read costs little however it is done. A
// variable for the tests.
var coldMin int64 = 64 << 20

// coldChunk is the size of one read of a cold blob, coldDepth how many such
// reads a send keeps in flight, and coldSends how many sends of cold blobs
// read with direct I/O at once (each holds up to coldDepth+1 chunks);
// further ones go out with sendfile, which also fills the page cache.
const (
	coldChunk = 8 << 20
	coldDepth = 2
	coldSends = 2
)

// coldRepeat is how long after a cold send another one of the same blob
// has it read into the page cache; coldSeenMax bounds how many blobs the
// Store remembers meanwhile.
const (
	coldRepeat  = 10 * time.Minute
	coldSeenMax = 4096
)

// alignedBuf returns an n-byte buffer whose first byte is
// directAlign-aligned, as O_DIRECT wants.
func alignedBuf(n int) *[]byte {
	raw := make([]byte, n+directAlign)
	skip := 0
	if r := addrMod(raw, directAlign); r != 0 {
		skip = directAlign - r
	}
	b := raw[skip : skip+n : skip+n]
	return &b
}

// coldFile is a large blob the page cache mostly does not hold. Sent the
// usual way (sendfile) every page would first be read into newly allocated
// page-cache memory — on a virtual machine whose host takes freed memory
// back, that runs at a fraction of the disk's speed — and would push hotter
// data out of the cache. SendTo reads it with direct I/O instead, in large
// chunks, a few chunks ahead of the writer. When a blob is sent cold a
// second time within coldRepeat, it asks the kernel to read the blob into
// the page cache in the background: a blob pulled twice is likely pulled
// again (a rollout across nodes), and later pulls then go out with sendfile
// from memory, while a blob read once (a backup, a one-off pull) leaves the
// cache to hotter data. Read, Seek and the rest are the file's.
type coldFile struct {
	*os.File
	size  int64
	store *Store
}

// SendTo writes the n bytes from the file's offset to w and moves the
// offset past them: io.CopyN(w, f, n) for a cold file. When coldSends
// sends read with direct I/O already, it is io.CopyN itself (sendfile, if
// w is a connection's writer).
func (c *coldFile) SendTo(w io.Writer, n int64) (int64, error) {
	select {
	case c.store.coldSends <- struct{}{}:
		defer func() { <-c.store.coldSends }()
	default:
		return io.CopyN(w, c.File, n)
	}
	off, err := c.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if n > c.size-off {
		n = max(c.size-off, 0)
	}
	direct, err := openDirectRead(c.Name())
	if err != nil {
		direct = nil // read through the page cache, still in large chunks
	}
	// The buffers live outside the Go heap (see mapBuffers) and go back to
	// the system when the send ends.
	arena, release, err := mapBuffers((coldDepth + 1) * coldChunk)
	if err != nil {
		return io.CopyN(w, c.File, n)
	}
	free := make(chan []byte, coldDepth+1)
	for i := range coldDepth + 1 {
		free <- arena[i*coldChunk : (i+1)*coldChunk : (i+1)*coldChunk]
	}
	type chunk struct {
		buf, data []byte
		err       error
	}
	// Up to coldDepth reads are in flight, each into its own buffer; the
	// writer takes them in order.
	pending := make(chan chan chunk, coldDepth)
	stop := make(chan struct{})
	var dmu sync.Mutex // guards direct (a refusal closes it)
	go func() {
		defer close(pending)
		end := off + n
		for at := off &^ (directAlign - 1); at < end; {
			var b []byte
			select {
			case b = <-free:
			case <-stop:
				return
			}
			want := min(int64(len(b)), roundUp(end-at, directAlign), c.size-at)
			res := make(chan chunk, 1)
			select {
			case pending <- res:
			case <-stop:
				return
			}
			go func(b []byte, at int64) {
				dmu.Lock()
				d := direct
				dmu.Unlock()
				m, refused, err := c.readChunk(d, b, at)
				if refused {
					dmu.Lock()
					if direct == d && d != nil {
						direct = nil
						d.Close()
					}
					dmu.Unlock()
				}
				data := b[:m]
				if at < off {
					data = data[min(int(off-at), m):]
				}
				if over := at + int64(m) - end; over > 0 {
					data = data[:len(data)-int(min(over, int64(len(data))))]
				}
				res <- chunk{buf: b, data: data, err: err}
			}(b[:want], at)
			at += want
		}
	}()
	defer func() {
		// Every read started is in pending: wait for them all before the
		// buffers go away.
		close(stop)
		for res := range pending {
			<-res
		}
		dmu.Lock()
		if direct != nil {
			direct.Close()
		}
		dmu.Unlock()
		release()
	}()
	var sent int64
	for res := range pending {
		ch := <-res
		var werr error
		if len(ch.data) > 0 {
			var m int
			m, werr = w.Write(ch.data)
			sent += int64(m)
		}
		free <- ch.buf[:cap(ch.buf)]
		if werr != nil {
			return sent, werr
		}
		if ch.err != nil {
			return sent, fmt.Errorf("blob/fs: read %s: %w", c.Name(), ch.err)
		}
	}
	if _, err := c.Seek(off+sent, io.SeekStart); err != nil {
		return sent, err
	}
	if sent < n {
		return sent, io.ErrUnexpectedEOF
	}
	c.warm()
	return sent, nil
}

// warm reads the blob into the page cache in the background when it was
// sent cold recently already, unless that is under way.
func (c *coldFile) warm() {
	path := c.Name()
	if !c.store.sentColdBefore(path, time.Now()) {
		return
	}
	if _, busy := c.store.warming.LoadOrStore(path, true); busy {
		return
	}
	go func() {
		defer c.store.warming.Delete(path)
		f, err := os.Open(path)
		if err != nil {
			return // deleted meanwhile
		}
		defer f.Close()
		warm(f, c.size)
	}()
}

// readChunk fills b from the file at the aligned offset at: the whole
// blocks with direct I/O through direct (unless it is nil), a partial last
// block — or everything, when the filesystem refuses direct I/O (refused) —
// through the page cache.
func (c *coldFile) readChunk(direct *os.File, b []byte, at int64) (n int, refused bool, err error) {
	if k := len(b) &^ (directAlign - 1); direct != nil && k > 0 {
		m, err := direct.ReadAt(b[:k], at)
		switch {
		case err != nil && m == 0 && directRefused(err):
			refused = true
		case err != nil:
			return m, false, err
		default:
			n = m
			c.store.directReadBytes.Add(int64(m))
		}
	}
	if n == len(b) {
		return n, refused, nil
	}
	m, err := c.File.ReadAt(b[n:], at+int64(n))
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // the file is shorter than its size
	}
	return n + m, refused, err
}

func roundUp(n, to int64) int64 { return (n + to - 1) &^ (to - 1) }

// openCold returns f as a coldFile when it is large and the page cache
// holds less than half of it; otherwise f itself.
func (s *Store) openCold(f *os.File) (*coldFile, bool) {
	fi, err := f.Stat()
	if err != nil || fi.Size() < coldMin {
		return nil, false
	}
	if cachedFraction(f, fi.Size()) >= 0.5 {
		return nil, false
	}
	return &coldFile{File: f, size: fi.Size(), store: s}, true
}

// sentColdBefore notes a complete cold send of path at now and says whether
// another one happened within coldRepeat before it.
func (s *Store) sentColdBefore(path string, now time.Time) bool {
	s.coldMu.Lock()
	defer s.coldMu.Unlock()
	if at, ok := s.coldSeen[path]; ok && now.Sub(at) <= coldRepeat {
		delete(s.coldSeen, path)
		return true
	}
	if len(s.coldSeen) >= coldSeenMax {
		for p, at := range s.coldSeen {
			if now.Sub(at) > coldRepeat {
				delete(s.coldSeen, p)
			}
		}
		if len(s.coldSeen) >= coldSeenMax {
			clear(s.coldSeen) // all recent: a burst of one-off reads
		}
	}
	if s.coldSeen == nil {
		s.coldSeen = make(map[string]time.Time)
	}
	s.coldSeen[path] = now
	return false
}
