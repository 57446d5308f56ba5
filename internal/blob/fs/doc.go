// Package fs is the filesystem blob store driver: the embedded default.
//
// Blobs are plain files named by their digest under a root directory (the
// layout is drawn in paths.go). An upload is a file in the uploads directory;
// committing it fsyncs the file, renames it into place and fsyncs the
// directory, so a blob is visible only once it is complete and durable.
// Open returns the *os.File itself so net/http can serve it with sendfile.
//
// Bytes stream through pooled fixed-size buffers: memory use does not grow
// with the blob size. On Linux the driver asks the kernel to start writing an
// upload's pages out every few MiB (sync_file_range), so the fsync at commit
// finds little left to flush even for a 1 GiB layer. A full disk (ENOSPC, EDQUOT) is reported as
// blob.ErrNoSpace and never leaves a partial blob visible.
//
// Any number of Store values, in one process or several, may share a root.
package fs
