//go:build linux

package fs

import (
	"errors"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openDirect opens path for writing with O_DIRECT: writes through it skip
// the page cache and go to the device, so they neither wait for the kernel
// to find (and, in a virtual machine, fault in) page-cache memory nor queue
// behind its dirty-page throttling. Filesystems without O_DIRECT refuse the
// open (EINVAL); the caller then writes buffered.
func openDirect(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|syscall.O_DIRECT, 0)
}

// directRefused says whether a write through an O_DIRECT descriptor failed
// because the filesystem (or this range of it) does not take direct I/O, so
// the same bytes should go through the page cache instead.
func directRefused(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EOPNOTSUPP)
}

// openDirectRead opens path for reading with O_DIRECT.
func openDirectRead(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_DIRECT, 0)
}

// cachedFraction is the share of f's pages the page cache holds
// (mincore(2) over a read-only mapping, 16 MiB at a time). When it cannot
// tell it says 1: the file is then sent the usual way.
func cachedFraction(f *os.File, size int64) float64 {
	if size <= 0 || int64(int(size)) != size {
		return 1
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 1
	}
	var mem []byte
	if cerr := rc.Control(func(fd uintptr) {
		mem, err = syscall.Mmap(int(fd), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	}); cerr != nil || err != nil {
		return 1
	}
	defer syscall.Munmap(mem)
	page := os.Getpagesize()
	vec := make([]byte, 4096)
	window := len(vec) * page
	var cached, pages int
	for at := 0; at < len(mem); at += window {
		n := min(window, len(mem)-at)
		np := (n + page - 1) / page
		_, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[at])), uintptr(n), uintptr(unsafe.Pointer(&vec[0])))
		if errno != 0 {
			return 1
		}
		for _, v := range vec[:np] {
			cached += int(v & 1)
		}
		pages += np
	}
	return float64(cached) / float64(pages)
}

// warmStep is the range of one WILLNEED: the kernel reads at most the
// device's readahead window or largest request per call (8 MiB here, 128
// KiB on a default disk) and silently drops the rest, so a whole blob takes
// one call per step.
const warmStep = 128 << 10

// warm asks the kernel to read f into the page cache (posix_fadvise
// WILLNEED, warmStep at a time): each call allocates the pages and queues
// the reads, and returns without waiting for them.
func warm(f *os.File, size int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		for off := int64(0); off < size; off += warmStep {
			if unix.Fadvise(int(fd), off, min(warmStep, size-off), unix.FADV_WILLNEED) != nil {
				return
			}
		}
	})
}

// mapBuffers maps n bytes of anonymous memory for the reads of a cold send:
// page-aligned as O_DIRECT wants, outside the Go heap (a send's buffers do
// not raise the collector's heap goal), and returned to the system by
// release.
func mapBuffers(n int) (b []byte, release func(), err error) {
	b, err = syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { _ = syscall.Munmap(b) }, nil
}
