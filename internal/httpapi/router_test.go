package httpapi

import (
	"strings"
	"testing"
)

func TestParseRoute(t *testing.T) {
	tests := []struct {
		path string
		want route
		ok   bool
	}{
		{"", route{kind: "base"}, true},
		{"_catalog", route{kind: "catalog"}, true},
		{"a/b/tags/list", route{kind: "tags", name: "a/b"}, true},
		{"a/manifests/latest", route{kind: "manifest", name: "a", arg: "latest"}, true},
		{"a/b/c/manifests/sha256:abc", route{kind: "manifest", name: "a/b/c", arg: "sha256:abc"}, true},
		{"a/blobs/sha256:abc", route{kind: "blob", name: "a", arg: "sha256:abc"}, true},
		{"a/blobs/uploads/", route{kind: "uploads", name: "a"}, true},
		{"a/blobs/uploads", route{kind: "uploads", name: "a"}, true},
		{"a/blobs/uploads/123", route{kind: "upload", name: "a", arg: "123"}, true},
		{"blobs/blobs/uploads/x", route{kind: "upload", name: "blobs", arg: "x"}, true},
		{"a/manifests/blobs/uploads/x", route{kind: "upload", name: "a/manifests", arg: "x"}, true},
		{"a/referrers/sha256:abc", route{kind: "referrers", name: "a", arg: "sha256:abc"}, true},
		{"a/uploads/x", route{}, false},
		{"manifests/latest", route{}, false},
		{"a/unknown/x", route{}, false},
		{"a", route{}, false},
		{"/tags/list", route{}, false},
		{"/blobs/uploads/", route{}, false},
		{"/blobs/uploads/x", route{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok := parseRoute(tt.path)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("parseRoute(%q) = %+v, %v; want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"a/b/manifests/v1", "a/blobs/uploads/", "x/tags/list", "_catalog", "a/referrers/sha256:0", "///"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		rt, ok := parseRoute(path)
		if !ok {
			return
		}
		// Whatever matched, name and argument are pieces of the path.
		if !strings.HasPrefix(path, rt.name) || !strings.Contains(path, rt.arg) {
			t.Fatalf("parseRoute(%q) = %+v: not pieces of the path", path, rt)
		}
		if rt.kind != "base" && rt.kind != "catalog" && rt.name == "" {
			t.Fatalf("parseRoute(%q) = %+v: no repository name", path, rt)
		}
	})
}
