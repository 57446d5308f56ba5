//go:build !linux

package fs

import (
	"errors"
	"os"
)

// openDirect: direct I/O is only used on Linux; elsewhere uploads are
// written through the page cache.
func openDirect(path string) (*os.File, error) { return nil, errors.ErrUnsupported }

func directRefused(err error) bool { return false }

func openDirectRead(path string) (*os.File, error) { return nil, errors.ErrUnsupported }

// cachedFraction: without mincore(2) every file counts as cached.
func cachedFraction(f *os.File, size int64) float64 { return 1 }

func warm(f *os.File, size int64) {}

func mapBuffers(n int) ([]byte, func(), error) { return *alignedBuf(n), func() {}, nil }
