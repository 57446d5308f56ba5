// Package oci holds the leaf rules of the OCI image and distribution specs
// that berth enforces: repository name, tag and digest grammar, the manifest
// media types, and parsing/validation of manifests and indexes into the
// references the metadata index stores.
package oci
