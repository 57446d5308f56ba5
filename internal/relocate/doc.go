// Package relocate copies a registry from one pair of stores to another —
// typically the embedded default (filesystem + SQLite) into PostgreSQL + S3
// when one machine is no longer enough. It copies what a client can see:
// every repository's blobs (bytes verified against their digest), manifests
// with their references, and tags. Upload sessions in progress and the
// event history are not copied. Running it again copies only what is
// missing, so an interrupted relocation can simply be restarted.
package relocate
