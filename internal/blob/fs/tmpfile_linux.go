//go:build linux

package fs

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// openTemp opens an unnamed regular file in dir (O_TMPFILE). It is named
// /proc/self/fd/N, a path that reaches it while it is open, so openDirect
// and linkTemp can use it. errors.ErrUnsupported means the filesystem
// has no O_TMPFILE.
func openTemp(dir string) (*os.File, error) {
	if !haveProcFD() {
		return nil, fmt.Errorf("O_TMPFILE needs /proc/self/fd to link the file: %w", errors.ErrUnsupported)
	}
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	switch {
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EISDIR), errors.Is(err, unix.EINVAL):
		// Filesystems without O_TMPFILE say EOPNOTSUPP; kernels
		// before 3.11 take it for O_DIRECTORY and say EISDIR.
		return nil, fmt.Errorf("O_TMPFILE in %s: %w (%w)", dir, errors.ErrUnsupported, err)
	case err != nil:
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), fmt.Sprintf("/proc/self/fd/%d", fd)), nil
}

var haveProcFD = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
})

// linkTemp gives the open unnamed file f the name dst.
func linkTemp(f *os.File, dst string) error {
	err := unix.Linkat(unix.AT_FDCWD, f.Name(), unix.AT_FDCWD, dst, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: dst, Err: err}
	}
	return nil
}
