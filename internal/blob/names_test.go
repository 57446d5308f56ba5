package blob

import (
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestValidUploadID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"abc-DEF_123", true}, {strings.Repeat("a", 128), true},
		{"", false}, {strings.Repeat("a", 129), false}, {"../x", false}, {"a/b", false}, {"a.b", false}, {"a b", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := ValidUploadID(tt.id); got != tt.ok {
				t.Errorf("ValidUploadID(%q) = %v, want %v", tt.id, got, tt.ok)
			}
		})
	}
}

func TestSplitDigest(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	tests := []struct {
		d        string
		alg, hex string
		ok       bool
	}{
		{"sha256:" + hex, "sha256", hex, true},
		{"sha512:" + strings.Repeat("0f", 64), "sha512", strings.Repeat("0f", 64), true},
		{"sha256:" + strings.ToUpper(hex), "", "", false},
		{"sha256:" + hex[:63], "", "", false},
		{"md5:" + hex, "", "", false},
		{"sha256:../" + hex[3:], "", "", false},
		{hex, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.d, func(t *testing.T) {
			alg, h, ok := SplitDigest(digest.Digest(tt.d))
			if alg != tt.alg || h != tt.hex || ok != tt.ok {
				t.Errorf("SplitDigest(%q) = %q, %q, %v", tt.d, alg, h, ok)
			}
		})
	}
}
