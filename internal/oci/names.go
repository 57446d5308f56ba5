package oci

import (
	_ "crypto/sha256" // register sha256 with go-digest
	_ "crypto/sha512" // register sha512 with go-digest
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
)

// MaxNameLength bounds a repository name (as registry:2 and most clients do).
const MaxNameLength = 255

var (
	// one path component: lower-case alphanumerics separated by ., _, __ or runs of -
	componentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)
	tagRE       = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// ValidName reports whether name follows the distribution spec's repository
// name grammar.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLength {
		return false
	}
	for {
		i := strings.IndexByte(name, '/')
		comp := name
		if i >= 0 {
			comp = name[:i]
		}
		if !validComponent(comp) {
			return false
		}
		if i < 0 {
			return true
		}
		name = name[i+1:]
	}
}

func validComponent(c string) bool {
	if c == "" {
		return false
	}
	// fast path for the common case: only [a-z0-9] and single separators
	return componentRE.MatchString(c)
}

// ValidTag reports whether tag follows the spec's tag grammar.
func ValidTag(tag string) bool { return tagRE.MatchString(tag) }

// Supported digest algorithms.
var supportedAlgorithms = map[digest.Algorithm]bool{digest.SHA256: true, digest.SHA512: true}

// ErrUnsupportedAlgorithm is returned for a well-formed digest whose algorithm berth does not support.
var ErrUnsupportedAlgorithm = errors.New("unsupported digest algorithm")

// ParseDigest parses and validates a digest string (sha256 or sha512).
func ParseDigest(s string) (digest.Digest, error) {
	d := digest.Digest(s)
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("invalid digest %q: %w", s, err)
	}
	if !supportedAlgorithms[d.Algorithm()] {
		return "", fmt.Errorf("digest %q: %w", s, ErrUnsupportedAlgorithm)
	}
	return d, nil
}

// ParseAlgorithm parses a digest algorithm name berth supports.
func ParseAlgorithm(s string) (digest.Algorithm, error) {
	a := digest.Algorithm(s)
	if !supportedAlgorithms[a] {
		return "", fmt.Errorf("%q: %w", s, ErrUnsupportedAlgorithm)
	}
	return a, nil
}

// IsDigest reports whether a manifest reference looks like a digest (it
// contains a colon, which a tag cannot).
func IsDigest(ref string) bool { return strings.IndexByte(ref, ':') >= 0 }

// referrerTag matches the tags of the referrers tag schema and of the
// signing tools that use it: sha256-<hex>, with .sig, .att or .sbom.
var referrerTag = regexp.MustCompile(`^sha256-[0-9a-f]{64}(\.(sig|att|sbom))?$|\.(sig|att|sbom)$`)

// IsReferrerTag reports whether tag names a subject's artifact (a
// signature, attestation or SBOM) rather than a version: retention does
// not count such tags and immutability rules cover them only by name.
func IsReferrerTag(tag string) bool { return referrerTag.MatchString(tag) }
