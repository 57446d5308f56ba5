// Package meta declares the metadata index: repositories, blob links,
// manifests and their references, tags, referrers, upload sessions and the
// event outbox. Implementations (sqlite, later pg) pass the metatest suite.
package meta
