// Package osv reads vulnerability records in the OSV format
// (https://ossf.github.io/osv-schema/) and decides whether a package
// version is affected by one.
//
// Only what matching needs is modelled; every other field of a record is
// ignored on input. Range evaluation follows the schema's algorithm:
// events are sorted by version in the range's scheme ("introduced": "0"
// first), "introduced" opens an affected interval, "fixed" closes it
// (exclusive), "last_affected" closes it after that version (inclusive),
// and "limit" caps the whole range. ECOSYSTEM ranges use the package
// ecosystem's scheme (see package version), SEMVER ranges semantic
// versioning; GIT ranges name commits, which a package version cannot be
// placed against, so they are ignored. The explicit "versions" list is
// honoured as well.
package osv
