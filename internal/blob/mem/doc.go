// Package mem is an in-memory blob store driver for unit tests. It keeps
// blobs and uploads in maps behind one mutex and passes the blobtest suite.
// Nothing survives the process; do not use it to serve real traffic.
package mem
