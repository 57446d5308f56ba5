package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/berth-registry/berth/internal/config"
)

// ErrLocked: another berth process holds the data directory.
var ErrLocked = errors.New("another berth process is using this data directory")

// LockData takes the lock of an embedded data directory (SQLite metadata),
// which one process at a time may use: `berth serve`, or a command working
// offline on the directory. The lock is an flock on <storage.path>/berth.lock
// and dies with the process. With PostgreSQL there is nothing to lock (the
// database serves many processes) and release does nothing.
func LockData(cfg config.Config) (release func(), err error) {
	if cfg.Metadata.Driver != "sqlite" {
		return func() {}, nil
	}
	if err := os.MkdirAll(cfg.Storage.Path, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(cfg.Storage.Path, "berth.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (is berth serve running on it?)", ErrLocked, cfg.Storage.Path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
