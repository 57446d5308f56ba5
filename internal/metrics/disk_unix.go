//go:build linux || darwin || freebsd

package metrics

import "syscall"

// diskSpace is the size of the filesystem holding path and the bytes an
// unprivileged process may still write there.
func diskSpace(path string) (size, avail uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	return uint64(st.Blocks) * uint64(st.Bsize), uint64(st.Bavail) * uint64(st.Bsize), nil
}
