//go:build linux && !arm

package fs

import (
	"os"
	"syscall"
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE from <linux/fs.h>.
const syncFileRangeWrite = 0x2

// startWriteback asks the kernel to start writing f's dirty pages in
// [off, off+n) to disk without waiting for them. Writeback then overlaps
// with receiving the rest of the upload and the fsync in CommitUpload has
// little left to do. It is only a hint: errors are ignored (a real I/O error
// surfaces at the fsync).
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SyncFileRange(int(fd), off, n, syncFileRangeWrite)
	})
}
