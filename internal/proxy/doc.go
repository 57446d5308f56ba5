// Package proxy connects proxy projects to their upstream registries: it
// implements the registry service's Upstream port over the proxy projects
// kept in the metadata store (URL, credentials sealed with the secrets
// key, TLS settings, TTL), with one authenticated HTTP client per
// upstream repository (go-containerregistry's transport: ping, basic or
// token authentication). The caching itself — what is stored, when a tag
// is revalidated, how concurrent misses share one download — is the
// registry service's (internal/registry/proxy.go, fill.go).
package proxy
