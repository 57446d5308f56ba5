package sbom

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

func sampleResult(t *testing.T) Result {
	t.Helper()
	return build(t, Options{}, []entry{
		file("etc/os-release", debianOSRelease),
		file("var/lib/dpkg/status", dpkgStatus),
		file("app/node_modules/@types/node/package.json", `{"name":"@types/node","version":"20.10.0"}`),
		file("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", pyMetadata("six", "1.16.0")),
	})
}

var (
	uuidURN   = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	spdxIDRef = regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`)
)

const subject = "registry.example/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestSPDX(t *testing.T) {
	r := sampleResult(t)
	created := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	out, err := SPDX(r, subject, created)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SPDXVersion, DataLicense, SPDXID, Name, DocumentNamespace string
		CreationInfo                                              struct {
			Created  string
			Creators []string
		}
		Packages []struct {
			SPDXID, Name, VersionInfo, DownloadLocation, PrimaryPackagePurpose string
			ExternalRefs                                                       []struct{ ReferenceCategory, ReferenceType, ReferenceLocator string }
		}
		Relationships []struct{ SPDXElementID, RelationshipType, RelatedSPDXElement string }
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"spdxVersion", doc.SPDXVersion == "SPDX-2.3"},
		{"dataLicense", doc.DataLicense == "CC0-1.0"},
		{"SPDXID", doc.SPDXID == "SPDXRef-DOCUMENT"},
		{"name", doc.Name == subject},
		{"documentNamespace", uuidURN.MatchString(doc.DocumentNamespace)},
		{"created", doc.CreationInfo.Created == "2024-05-01T12:00:00Z"},
		{"creators", len(doc.CreationInfo.Creators) == 1 && strings.HasPrefix(doc.CreationInfo.Creators[0], "Tool: ")},
		{"image package", len(doc.Packages) > 0 && doc.Packages[0].SPDXID == spdxImageID && doc.Packages[0].PrimaryPackagePurpose == "CONTAINER"},
		{"package count", len(doc.Packages) == len(r.Packages)+1},
		{"relationship count", len(doc.Relationships) == len(r.Packages)+1},
		{"describes", len(doc.Relationships) > 0 && doc.Relationships[0] == struct{ SPDXElementID, RelationshipType, RelatedSPDXElement string }{"SPDXRef-DOCUMENT", "DESCRIBES", spdxImageID}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Errorf("bad %s in\n%s", c.name, out)
			}
		})
	}
	ids := map[string]bool{}
	for i, p := range doc.Packages {
		if !spdxIDRef.MatchString(p.SPDXID) || ids[p.SPDXID] || p.Name == "" || p.DownloadLocation == "" {
			t.Errorf("package %d: %+v", i, p)
		}
		ids[p.SPDXID] = true
		if i == 0 {
			continue
		}
		want := r.Packages[i-1]
		if p.Name != want.Name || p.VersionInfo != want.Version || len(p.ExternalRefs) != 1 ||
			p.ExternalRefs[0].ReferenceType != "purl" || p.ExternalRefs[0].ReferenceCategory != "PACKAGE-MANAGER" || p.ExternalRefs[0].ReferenceLocator != want.PURL {
			t.Errorf("package %d: %+v, want %+v", i, p, want)
		}
	}
	for _, rel := range doc.Relationships[1:] {
		if rel.SPDXElementID != spdxImageID || rel.RelationshipType != "CONTAINS" || !ids[rel.RelatedSPDXElement] {
			t.Errorf("relationship %+v", rel)
		}
	}
	again, _ := SPDX(r, subject, created)
	if !bytes.Equal(out, again) {
		t.Error("SPDX output is not deterministic")
	}
	other, _ := SPDX(r, subject, created.Add(time.Second))
	if bytes.Equal(out, other) {
		t.Error("a different time gives the same document")
	}
	if _, err := SPDX(r, "", created); err == nil {
		t.Error("no error without a subject")
	}
}

func TestCycloneDX(t *testing.T) {
	r := sampleResult(t)
	created := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	out, err := CycloneDX(r, subject, created)
	if err != nil {
		t.Fatal(err)
	}
	type component struct {
		Type, Name, Version, PURL string
		BOMRef                    string `json:"bom-ref"`
	}
	var bom struct {
		BOMFormat, SpecVersion, SerialNumber string
		Version                              int
		Metadata                             struct {
			Timestamp string
			Component component
		}
		Components   []component
		Dependencies []struct {
			Ref       string
			DependsOn []string
		}
	}
	if err := json.Unmarshal(out, &bom); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"bomFormat", bom.BOMFormat == "CycloneDX"},
		{"specVersion", bom.SpecVersion == "1.5"},
		{"serialNumber", uuidURN.MatchString(bom.SerialNumber)},
		{"version", bom.Version == 1},
		{"timestamp", bom.Metadata.Timestamp == "2024-05-01T12:00:00Z"},
		{"image", bom.Metadata.Component.Type == "container" && bom.Metadata.Component.Name == subject && bom.Metadata.Component.BOMRef != ""},
		{"os component", len(bom.Components) > 0 && bom.Components[0].Type == "operating-system" && bom.Components[0].Name == "debian" && bom.Components[0].Version == "12"},
		{"component count", len(bom.Components) == len(r.Packages)+1},
		{"dependencies", len(bom.Dependencies) == 1 && bom.Dependencies[0].Ref == bom.Metadata.Component.BOMRef && len(bom.Dependencies[0].DependsOn) == len(bom.Components)},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Errorf("bad %s in\n%s", c.name, out)
			}
		})
	}
	refs := map[string]bool{}
	for i, c := range bom.Components {
		if c.BOMRef == "" || refs[c.BOMRef] {
			t.Errorf("component %d: bad bom-ref %q", i, c.BOMRef)
		}
		refs[c.BOMRef] = true
		if i == 0 {
			continue
		}
		want := r.Packages[i-1]
		if c.Type != "library" || c.Name != want.Name || c.Version != want.Version || c.PURL != want.PURL || c.PURL == "" {
			t.Errorf("component %d: %+v, want %+v", i, c, want)
		}
	}
	if len(bom.Dependencies) == 1 {
		for _, d := range bom.Dependencies[0].DependsOn {
			if !refs[d] {
				t.Errorf("dependsOn unknown ref %q", d)
			}
		}
	}
	again, _ := CycloneDX(r, subject, created)
	if !bytes.Equal(out, again) {
		t.Error("CycloneDX output is not deterministic")
	}
}

func TestEmptyResultExports(t *testing.T) {
	tests := []struct {
		name string
		fn   func(Result, string, time.Time) ([]byte, error)
		want string
	}{
		{"spdx", SPDX, `"packages": [`},
		{"cyclonedx", CycloneDX, `"components": []`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.fn(Result{}, subject, time.Unix(0, 0))
			if err != nil || !json.Valid(out) || !bytes.Contains(out, []byte(tt.want)) {
				t.Errorf("err %v, output %s", err, out)
			}
		})
	}
}

func TestPackageURLEscaping(t *testing.T) {
	tests := []struct {
		name string
		f    found
		os   OS
		want string
	}{
		{"deb epoch and plus", found{Package: Package{Type: TypeDeb, Name: "vim", Version: "2:9.0+1", Source: "vim"}, arch: "amd64"}, OS{ID: "debian", VersionID: "12"}, "pkg:deb/debian/vim@2:9.0%2B1?arch=amd64&distro=debian-12"},
		{"deb without os", found{Package: Package{Type: TypeDeb, Name: "a", Version: "1", Source: "a"}}, OS{}, "pkg:deb/debian/a@1"},
		{"rhel namespace", found{Package: Package{Type: TypeRPM, Name: "bash", Version: "5.1-1"}, arch: "x86_64"}, OS{ID: "rhel", VersionID: "9.4"}, "pkg:rpm/redhat/bash@5.1-1?arch=x86_64&distro=rhel-9.4"},
		{"go module with uppercase and tilde", found{Package: Package{Type: TypeGoModule, Name: "github.com/Azure/go~x", Version: "v1.0.0+incompatible"}}, OS{}, "pkg:golang/github.com/Azure/go~x@v1.0.0%2Bincompatible"},
		{"npm name with odd bytes", found{Package: Package{Type: TypeNPM, Name: "a&b?c#d", Version: "1.0.0"}}, OS{}, "pkg:npm/a%26b%3Fc%23d@1.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := packageURL(tt.f, tt.os); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestEcosystem(t *testing.T) {
	tests := []struct {
		typ  string
		os   OS
		want string
	}{
		{TypeDeb, OS{ID: "debian", VersionID: "12"}, "Debian:12"},
		{TypeDeb, OS{ID: "debian", VersionID: "11.9"}, "Debian:11"},
		{TypeDeb, OS{ID: "debian"}, ""},
		{TypeDeb, OS{ID: "linuxmint", VersionID: "21"}, ""},
		{TypeAPK, OS{ID: "alpine", VersionID: "3.19.1"}, "Alpine:v3.19"},
		{TypeAPK, OS{ID: "alpine", VersionID: "3.20"}, "Alpine:v3.20"},
		{TypeRPM, OS{ID: "almalinux", VersionID: "8.9"}, "AlmaLinux:8"},
		{TypeRPM, OS{ID: "rhel", VersionID: "9.4"}, "Red Hat"},
		{TypeRPM, OS{ID: "sles", VersionID: "15.5"}, "SUSE:Linux Enterprise Server 15 SP5"},
		{TypeRPM, OS{ID: "fedora", VersionID: "40"}, ""},
		{TypePython, OS{}, "PyPI"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.os.ID+"/"+tt.os.VersionID, func(t *testing.T) {
			if got := ecosystem(tt.typ, tt.os); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
