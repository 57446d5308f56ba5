//go:build !linux

package fs

import (
	"errors"
	"os"
)

// openTemp: unnamed files are a Linux feature; PutBlob goes through an
// upload file elsewhere.
func openTemp(dir string) (*os.File, error) { return nil, errors.ErrUnsupported }

func linkTemp(f *os.File, dst string) error { return errors.ErrUnsupported }
