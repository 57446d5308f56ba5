// Package policy holds the rules projects set on their repositories:
// immutable tags today. The registry core asks it through the TagPolicy
// interface the core declares.
package policy

import (
	"strings"

	"github.com/berth-registry/berth/internal/auth/pattern"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Immutability answers whether a tag is immutable, from the immutable
// rules of the repository's project.
type Immutability struct{}

// namesReferrers reports whether a rule's tag pattern is about such tags:
// only then does it cover them.
func namesReferrers(tags string) bool {
	return strings.HasPrefix(tags, "sha256-") || strings.HasSuffix(tags, ".sig") ||
		strings.HasSuffix(tags, ".att") || strings.HasSuffix(tags, ".sbom")
}

// ImmutableRule returns the rule ("<repositories> <tags>") that makes tag
// of repo immutable, or "" when none does.
func (Immutability) ImmutableRule(r meta.Reader, repo, tag string) (string, error) {
	rules, err := r.ImmutableRules(meta.ProjectOf(repo))
	if err != nil || len(rules) == 0 {
		return "", err
	}
	referrer := oci.IsReferrerTag(tag)
	for _, rule := range rules {
		if referrer && !namesReferrers(rule.Tags) {
			continue
		}
		rp, err1 := pattern.Compile(rule.Repositories)
		tp, err2 := pattern.Compile(rule.Tags)
		if err1 != nil || err2 != nil {
			continue // refused when the rule was made; never matches
		}
		if rp.Match(repo) && tp.Match(tag) {
			return rule.Repositories + " " + rule.Tags, nil
		}
	}
	return "", nil
}
