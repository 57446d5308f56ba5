package oci

import (
	"errors"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"alpine", true},
		{"library/alpine", true},
		{"a/b/c/d", true},
		{"my-app_1.2", true},
		{"a__b", true},
		{"a---b", true},
		{"", false},
		{"Alpine", false},
		{"/alpine", false},
		{"alpine/", false},
		{"a//b", false},
		{"a..b", false},
		{"-a", false},
		{"a_", false},
		{"a___b", false},
		{"a b", false},
		{strings.Repeat("a", 256), false},
		{strings.Repeat("a", 255), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidName(tt.name); got != tt.ok {
				t.Errorf("ValidName(%q) = %v, want %v", tt.name, got, tt.ok)
			}
		})
	}
}

func TestValidTag(t *testing.T) {
	tests := []struct {
		tag string
		ok  bool
	}{
		{"latest", true}, {"v1.2.3", true}, {"_x", true}, {"A-b_c.d", true},
		{"", false}, {".x", false}, {"-x", false}, {"a:b", false}, {"a/b", false},
		{strings.Repeat("a", 128), true}, {strings.Repeat("a", 129), false},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			if got := ValidTag(tt.tag); got != tt.ok {
				t.Errorf("ValidTag(%q) = %v, want %v", tt.tag, got, tt.ok)
			}
		})
	}
}

func TestParseDigest(t *testing.T) {
	sha256 := "sha256:" + strings.Repeat("a", 64)
	sha512 := "sha512:" + strings.Repeat("b", 128)
	tests := []struct {
		in          string
		ok          bool
		unsupported bool
	}{
		{sha256, true, false},
		{sha512, true, false},
		{"sha256:" + strings.Repeat("a", 63), false, false},
		{"sha256:" + strings.Repeat("A", 64), false, false},
		{"sha384:" + strings.Repeat("a", 96), false, true},
		{"md5:abc", false, false},
		{"latest", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := ParseDigest(tt.in)
			if tt.ok != (err == nil) {
				t.Fatalf("ParseDigest(%q) = %v, %v", tt.in, d, err)
			}
			if tt.ok && string(d) != tt.in {
				t.Errorf("got %q", d)
			}
			if tt.unsupported != errors.Is(err, ErrUnsupportedAlgorithm) {
				t.Errorf("unsupported = %v, err %v", !tt.unsupported, err)
			}
		})
	}
}

func TestIsReferrerTag(t *testing.T) {
	hex := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		tag  string
		want bool
	}{
		{"sha256-" + hex, true},
		{"sha256-" + hex + ".sig", true},
		{"sha256-" + hex + ".att", true},
		{"sha256-" + hex + ".sbom", true},
		{"build.sig", true},
		{"x.att", true},
		{"x.sbom", true},
		{"v1", false},
		{"latest", false},
		{"sha256-abc", false},
		{"signature", false},
		{"v1.sigx", false},
	} {
		t.Run(c.tag, func(t *testing.T) {
			if got := IsReferrerTag(c.tag); got != c.want {
				t.Errorf("IsReferrerTag(%q) = %v, want %v", c.tag, got, c.want)
			}
		})
	}
}
