package oci

import (
	"errors"
	"strings"
	"testing"
)

const (
	dA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	dB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	dC = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

func TestParseManifest(t *testing.T) {
	image := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
		"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + dA + `","size":2},
		"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + dB + `","size":3},
		          {"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + dC + `","size":3,"urls":["https://example.invalid/x"]}],
		"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + dC + `","size":9},
		"annotations":{"k":"v"}}`
	tests := []struct {
		name         string
		ct, body     string
		wantErr      bool
		wantMT       string
		wantKind     Kind
		wantBlobs    int
		wantChildren int
		wantArtifact string
		wantSubject  bool
	}{
		{name: "oci image", ct: MediaTypeOCIManifest, body: image, wantMT: MediaTypeOCIManifest, wantKind: KindImage,
			wantBlobs: 2, wantArtifact: "application/vnd.oci.image.config.v1+json", wantSubject: true},
		{name: "docker schema2 no body media type", ct: MediaTypeDockerManifest,
			body:   `{"schemaVersion":2,"config":{"mediaType":"x","digest":"` + dA + `","size":1},"layers":[]}`,
			wantMT: MediaTypeDockerManifest, wantKind: KindImage, wantBlobs: 1, wantArtifact: "x"},
		{name: "artifact type", ct: MediaTypeOCIManifest,
			body:   `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + dA + `","size":2}}`,
			wantMT: MediaTypeOCIManifest, wantKind: KindImage, wantBlobs: 1, wantArtifact: "application/vnd.example"},
		{name: "oci index sparse", ct: MediaTypeOCIIndex,
			body:   `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + dA + `","size":5}]}`,
			wantMT: MediaTypeOCIIndex, wantKind: KindIndex, wantChildren: 1},
		{name: "docker list", ct: MediaTypeDockerList,
			body:   `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}`,
			wantMT: MediaTypeDockerList, wantKind: KindIndex},
		{name: "custom type by content type", ct: "application/vnd.example.thing.v1+json",
			body:   `{"schemaVersion":2,"config":{"mediaType":"x","digest":"` + dA + `","size":1}}`,
			wantMT: "application/vnd.example.thing.v1+json", wantKind: KindImage, wantBlobs: 1, wantArtifact: "x"},
		{name: "guess index without any type", ct: "", body: `{"schemaVersion":2,"manifests":[]}`, wantMT: MediaTypeOCIIndex, wantKind: KindIndex},
		{name: "not json", ct: MediaTypeOCIManifest, body: `{`, wantErr: true},
		{name: "mismatched content type", ct: MediaTypeDockerManifest, body: image, wantErr: true},
		{name: "schema1", ct: MediaTypeDockerSigned1, body: `{"schemaVersion":1}`, wantErr: true},
		{name: "schema version 3", ct: MediaTypeOCIIndex, body: `{"schemaVersion":3,"manifests":[]}`, wantErr: true},
		{name: "no schema version", ct: MediaTypeOCIIndex, body: `{"manifests":[]}`, wantErr: true},
		{name: "image without config", ct: MediaTypeOCIManifest, body: `{"schemaVersion":2,"layers":[]}`, wantErr: true},
		{name: "bad layer digest", ct: MediaTypeOCIManifest,
			body: `{"schemaVersion":2,"config":{"mediaType":"x","digest":"` + dA + `","size":1},"layers":[{"digest":"sha256:zz","size":1}]}`, wantErr: true},
		{name: "negative size", ct: MediaTypeOCIManifest,
			body: `{"schemaVersion":2,"config":{"mediaType":"x","digest":"` + dA + `","size":-1}}`, wantErr: true},
		{name: "index with layers", ct: MediaTypeOCIIndex, body: `{"schemaVersion":2,"manifests":[],"layers":[]}`, wantErr: true},
		{name: "no type at all", ct: "", body: `{"schemaVersion":2}`, wantErr: true},
		{name: "json array", ct: MediaTypeOCIManifest, body: `[]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseManifest(tt.ct, []byte(tt.body))
			if tt.wantErr {
				if err == nil || !errors.Is(err, ErrInvalidManifest) {
					t.Fatalf("want ErrInvalidManifest, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.MediaType != tt.wantMT || p.Kind != tt.wantKind || len(p.Blobs) != tt.wantBlobs ||
				len(p.Manifests) != tt.wantChildren || p.ArtifactType != tt.wantArtifact || (p.Subject != nil) != tt.wantSubject {
				t.Errorf("got %+v", p)
			}
		})
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add(MediaTypeOCIManifest, `{"schemaVersion":2,"config":{"mediaType":"x","digest":"`+dA+`","size":1},"layers":[]}`)
	f.Add(MediaTypeOCIIndex, `{"schemaVersion":2,"manifests":[{"digest":"`+dB+`","size":1}]}`)
	f.Add("", `{"schemaVersion":2,"subject":{"digest":"`+dC+`"}}`)
	f.Fuzz(func(t *testing.T, ct, body string) {
		p, err := ParseManifest(ct, []byte(body))
		if err != nil {
			if !errors.Is(err, ErrInvalidManifest) {
				t.Fatalf("error not wrapping ErrInvalidManifest: %v", err)
			}
			return
		}
		if p.MediaType == "" || (p.Kind != KindImage && p.Kind != KindIndex) {
			t.Fatalf("accepted manifest without type/kind: %+v", p)
		}
		for _, d := range p.Blobs {
			if _, err := ParseDigest(string(d.Digest)); err != nil {
				t.Fatalf("accepted invalid blob digest %q", d.Digest)
			}
		}
		for _, d := range p.Manifests {
			if _, err := ParseDigest(string(d.Digest)); err != nil {
				t.Fatalf("accepted invalid child digest %q", d.Digest)
			}
		}
	})
}

func FuzzNames(f *testing.F) {
	for _, s := range []string{"library/alpine", "a__b/c-d", "latest", "sha256:" + strings.Repeat("a", 64), "A/b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidName(s) {
			if len(s) > MaxNameLength || strings.ContainsAny(s, ":@ ABCDEFGHIJKLMNOPQRSTUVWXYZ") || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.Contains(s, "//") {
				t.Fatalf("ValidName accepted %q", s)
			}
		}
		if ValidTag(s) && (len(s) > 128 || strings.ContainsAny(s, ":/@")) {
			t.Fatalf("ValidTag accepted %q", s)
		}
		if d, err := ParseDigest(s); err == nil {
			if d.Algorithm() != "sha256" && d.Algorithm() != "sha512" {
				t.Fatalf("ParseDigest accepted %q", s)
			}
			if ValidTag(s) {
				t.Fatalf("%q is both a digest and a tag", s)
			}
		}
	})
}
