//go:build !(linux || darwin || freebsd)

package metrics

import "errors"

func diskSpace(string) (uint64, uint64, error) {
	return 0, 0, errors.New("filesystem space is not read on this platform")
}
