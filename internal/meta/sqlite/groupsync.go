package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// groupSync is group commit for a WAL database whose write connection runs
// with synchronous=NORMAL: a commit there only writes its frames to the WAL
// file, and Sync then fsyncs that file. Callers that arrive while a sync runs
// wait for the next one, so one fsync covers every commit made meanwhile
// instead of one fsync each while the single writer connection waits.
//
// A caller is done once a sync that began after it called has ended: its
// frames were written before that sync began, and so were those of every
// earlier commit (the WAL is written in commit order). Frames a checkpoint
// has already copied into the database file are durable there (SQLite syncs
// the WAL before and the database after a checkpoint in NORMAL mode).
//
// A failed fsync is sticky: the kernel may have dropped the pages it could
// not write, so no later commit can be called durable either (the WAL would
// end at the hole after a crash). Every later Sync returns the error until
// the process restarts and SQLite recovers from what is on disk.
type groupSync struct {
	path  string // the WAL file
	fsync func(path string) error

	mu       sync.Mutex
	cond     sync.Cond
	started  uint64 // syncs begun
	finished uint64 // the last sync that ended
	running  bool
	err      error // the first failure, for good
}

func newGroupSync(walPath string) *groupSync {
	g := &groupSync{path: walPath, fsync: fsyncWAL}
	g.cond.L = &g.mu
	return g
}

// Sync returns once everything committed before it was called is on disk.
func (g *groupSync) Sync() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	want := g.started + 1 // the first sync to begin after this point
	for g.err == nil && g.finished < want {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		n := g.started
		g.mu.Unlock()
		err := g.fsync(g.path)
		g.mu.Lock()
		g.running = false
		g.finished = n
		if err != nil && g.err == nil {
			g.err = fmt.Errorf("sqlite: sync of the write-ahead log failed, later commits cannot be made durable (restart berth): %w", err)
		}
		g.cond.Broadcast()
	}
	return g.err
}

// fsyncWAL is what groupSyncs call to sync; tests count the calls.
var fsyncWAL = fsyncPath

// fsyncPath fsyncs the file at path through a descriptor of its own (fsync
// flushes the file, whichever descriptor wrote it). A missing file has
// nothing to flush: SQLite removes the WAL only after checkpointing all of
// it into the database file and syncing that.
func fsyncPath(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
