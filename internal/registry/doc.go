// Package registry is the OCI domain service: uploads, blob pulls, mounts,
// manifest pushes and pulls, tags, referrers and listings. It owns the write
// order — bytes into the blob store first, then one metadata transaction that
// also records the change's events in the outbox — so HTTP handlers never
// touch either store themselves, and a crash at any point leaves either
// nothing visible or a consistent state (an orphaned blob is GC's business).
package registry
