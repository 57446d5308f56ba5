package sbom

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestMalformedLayers(t *testing.T) {
	good := tarBytes(t, file("etc/os-release", alpineOSRelease), file("lib/apk/db/installed", "P:musl\nV:1.2.4-r2\n"))
	second := tarBytes(t, file("usr/lib/python3/site-packages/a-1.dist-info/METADATA", pyMetadata("a", "1")), file("lib/apk/db/installed", "P:musl\nV:1.2.5-r0\n"))
	// The second entry's header starts where its name first appears; its
	// body where its content does.
	secondHeader := bytes.Index(second, []byte("lib/apk/db/installed"))
	secondBody := bytes.Index(second, []byte("P:musl"))
	if secondHeader%512 != 0 || secondBody < secondHeader {
		t.Fatalf("unexpected tar layout: header at %d, body at %d", secondHeader, secondBody)
	}
	pyA := "python a 1 /usr/lib/python3/site-packages/a-1.dist-info/METADATA"
	tests := []struct {
		name    string
		layers  [][]byte
		want    []string
		warning string
	}{
		// What was read is applied; the entry cut short hides the lower file
		// as the complete layer would have, but is not reported.
		{"truncated in a file body", [][]byte{good, second[:secondBody+5]}, []string{pyA}, "tar stream ends early in lib/apk/db/installed"},
		// archive/tar cannot tell a cut at an entry boundary from a
		// stream without its end-of-archive blocks.
		{"cut between entries", [][]byte{good, second[:secondHeader]}, []string{"apk musl 1.2.4-r2 /lib/apk/db/installed", pyA}, ""},
		{"cut inside a header", [][]byte{good, second[:secondHeader+100]}, []string{"apk musl 1.2.4-r2 /lib/apk/db/installed", pyA}, "layer 1: tar stream ends early"},
		{"not a tar (still gzipped)", [][]byte{good, []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + strings.Repeat("\xaa", 600))}, []string{"apk musl 1.2.4-r2 /lib/apk/db/installed"}, "layer 1"},
		{"empty layer", [][]byte{good, nil}, []string{"apk musl 1.2.4-r2 /lib/apk/db/installed"}, ""},
		{"binary junk in the apk database", [][]byte{tarBytes(t, file("lib/apk/db/installed", "\x00\x00\xff\xfe\x01P:\x00\n\n"+strings.Repeat("\xff", 5000)))}, nil, "malformed lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ls []func() (io.ReadCloser, error)
			for _, l := range tt.layers {
				ls = append(ls, opener(l))
			}
			r, err := Build(context.Background(), ls, Options{})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if got := summary(r.Packages); !equalStrings(got, tt.want) {
				t.Errorf("packages %q, want %q", got, tt.want)
			}
			if tt.warning == "" && len(r.Warnings) > 0 || tt.warning != "" && !hasWarning(r, tt.warning) {
				t.Errorf("warnings %q, want %q", r.Warnings, tt.warning)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	boom := errors.New("boom")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		layers []func() (io.ReadCloser, error)
		want   error
	}{
		{"layer cannot be opened", context.Background(), []func() (io.ReadCloser, error){func() (io.ReadCloser, error) { return nil, boom }}, boom},
		{"cancelled", ctx, []func() (io.ReadCloser, error){opener(tarBytes(t, file("a", "b")))}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Build(tt.ctx, tt.layers, Options{}); !errors.Is(err, tt.want) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	var many []entry
	for i := 0; i < 20; i++ {
		many = append(many, file("usr/lib/python3/site-packages/p"+strings.Repeat("x", i)+".dist-info/METADATA", pyMetadata("p"+strings.Repeat("x", i), "1")))
	}
	tests := []struct {
		name    string
		opts    Options
		layers  [][]entry
		pkgs    int
		warning string
	}{
		{"MaxFiles", Options{MaxFiles: 5}, [][]entry{many}, 5, "more than 5 candidate files"},
		{"MaxFiles across layers", Options{MaxFiles: 12}, [][]entry{many[:10], many[10:]}, 12, "more than 12 candidate files"},
		{"MaxFileSize", Options{MaxFileSize: 10}, [][]entry{many[:1]}, 0, "larger than the 10-byte limit"},
		{"MaxTotalSize", Options{MaxTotalSize: 300}, [][]entry{many}, 3, "exceed 300 bytes"},
		{"long path", Options{}, [][]entry{{file(strings.Repeat("d/", 3000)+"x.dist-info/METADATA", pyMetadata("x", "1"))}}, 0, "longer than 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := build(t, tt.opts, tt.layers...)
			if len(r.Packages) != tt.pkgs {
				t.Errorf("%d packages, want %d", len(r.Packages), tt.pkgs)
			}
			if !hasWarning(r, tt.warning) {
				t.Errorf("warnings %q, want %q", r.Warnings, tt.warning)
			}
		})
	}
}

func TestWarningsBounded(t *testing.T) {
	var w warnings
	for i := 0; i < maxWarnings+50; i++ {
		w.add("warning %d", i)
		if i < maxWarnings {
			w.add("warning %d", i) // duplicates are dropped silently
		}
	}
	got := w.result()
	if len(got) != maxWarnings+1 || got[maxWarnings] != "50 more warnings omitted" {
		t.Errorf("%d warnings, last %q", len(got), got[len(got)-1])
	}
}
