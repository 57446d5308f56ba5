package sbom

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/sbom/sbomtest"
)

func rpmPackage(name, version, release string, epoch int32, arch, srpm string) []byte {
	return sbomtest.RPM{Name: name, Version: version, Release: release, Epoch: epoch, Arch: arch, SourceRPM: srpm}.Header()
}

// rpmDB creates an sqlite database with the given schema and blobs and
// returns its bytes.
func rpmDB(t *testing.T, schema string, blobs ...[]byte) []byte {
	return sbomtest.RPMDB(t, schema, blobs...)
}

const rpmSchema = "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)"

func TestRPM(t *testing.T) {
	db := rpmDB(t, rpmSchema,
		rpmPackage("openssl-libs", "3.0.7", "24.el9", 1, "x86_64", "openssl-3.0.7-24.el9.src.rpm"),
		rpmPackage("bash", "5.1.8", "6.el9_1", -1, "x86_64", "bash-5.1.8-6.el9_1.src.rpm"),
		rpmPackage("tzdata", "2023c", "1.el9", 0, "noarch", "tzdata-2023c-1.el9.src.rpm"),
		rpmPackage("gpg-pubkey", "350d275d", "6279464b", -1, "", ""),
		[]byte("\x00\x00\x00\x05\xff\xff\xff\xffjunk"),
	)
	tests := []struct {
		name string
		dir  string
	}{
		{"var/lib/rpm", "var/lib/rpm"},
		{"usr/lib/sysimage/rpm", "usr/lib/sysimage/rpm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := build(t, Options{}, []entry{
				file("etc/os-release", rockyOSRelease),
				file(tt.dir+"/rpmdb.sqlite", string(db)),
			})
			loc := "/" + tt.dir + "/rpmdb.sqlite"
			want := []string{
				"rpm bash 5.1.8-6.el9_1 " + loc,
				"rpm openssl-libs 1:3.0.7-24.el9 " + loc,
				"rpm tzdata 2023c-1.el9 " + loc,
			}
			if got := summary(r.Packages); !equalStrings(got, want) {
				t.Fatalf("packages %q, want %q (warnings %q)", got, want, r.Warnings)
			}
			o, _ := findPackage(r, TypeRPM, "openssl-libs")
			wantPURL := "pkg:rpm/rocky/openssl-libs@3.0.7-24.el9?arch=x86_64&distro=rocky-9.3&epoch=1&upstream=openssl-3.0.7-24.el9.src.rpm"
			if o.PURL != wantPURL || o.Ecosystem != "Rocky Linux:9" || o.Source != "" {
				t.Errorf("openssl-libs %+v, want purl %s", o, wantPURL)
			}
			if !hasWarning(r, "1 malformed package headers") {
				t.Errorf("warnings %q, want one about the malformed header", r.Warnings)
			}
		})
	}
}

func TestRPMUnsupportedAndHostile(t *testing.T) {
	good := rpmPackage("bash", "5.1.8", "6.el9_1", -1, "x86_64", "bash-5.1.8-6.el9_1.src.rpm")
	tests := []struct {
		name    string
		path    string
		data    []byte
		warning string
	}{
		{"berkeley db", "var/lib/rpm/Packages", []byte("\x00\x06\x15\x61 bdb hash"), "BerkeleyDB rpm database is not supported"},
		{"ndb", "var/lib/rpm/Packages.db", []byte("RpmP"), "NDB rpm database is not supported"},
		{"not sqlite", "var/lib/rpm/rpmdb.sqlite", []byte("definitely not a database"), "unusable rpm database"},
		{"no Packages table", "var/lib/rpm/rpmdb.sqlite", rpmDB(t, "CREATE TABLE Other (blob BLOB)"), "no Packages table"},
		{"no blob column", "var/lib/rpm/rpmdb.sqlite", rpmDB(t, "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, data BLOB)"), "no blob column"},
		{"Packages is a view", "var/lib/rpm/rpmdb.sqlite", rpmDB(t, "CREATE TABLE Real (blob BLOB); CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT zeroblob(1000) AS blob FROM c"), "not a table"},
		{"generated blob column", "var/lib/rpm/rpmdb.sqlite", rpmDB(t, "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, raw BLOB, blob BLOB AS (zeroblob(100000000)) VIRTUAL)"), "generated"},
		{"truncated database", "var/lib/rpm/rpmdb.sqlite", rpmDB(t, rpmSchema, good, good, good)[:3000], "rpm database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := build(t, Options{}, []entry{file("etc/os-release", rockyOSRelease), file(tt.path, string(tt.data))})
			if !hasWarning(r, tt.warning) {
				t.Errorf("warnings %q, want %q", r.Warnings, tt.warning)
			}
			if len(r.Packages) != 0 {
				t.Errorf("packages %+v", r.Packages)
			}
		})
	}
}

func TestParseRPMHeader(t *testing.T) {
	good := rpmPackage("bash", "5.1.8", "6.el9_1", 2, "x86_64", "bash-5.1.8-6.el9_1.src.rpm")
	tests := []struct {
		name    string
		blob    []byte
		want    string // name-version-release:epoch, or "" for an error
		errText string
	}{
		{"good", good, "bash-5.1.8-6.el9_1:2", ""},
		{"empty", nil, "", "0 bytes"},
		{"truncated data", good[:len(good)-20], "", "do not fit"},
		{"too many entries", []byte("\xff\xff\xff\xff\x00\x00\x00\x00"), "", "entries"},
		{"string offset outside", encodeBad(good, 1, 0x7fffffff), "", "bad entry"},
		{"negative offset", encodeBad(good, 1, -5), "", "bad entry"},
		{"no name", sbomtest.RPMHeader([]sbomtest.RPMTag{{Tag: rpmTagVersion, S: "1"}}), "", "no NAME"},
		{"unterminated", func() []byte { b := append([]byte(nil), good...); return b[:len(b)-16] }(), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseRPMHeader(tt.blob)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("no error, header %+v", h)
				}
				if !strings.Contains(err.Error(), tt.errText) {
					t.Errorf("error %v, want %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := h.name + "-" + h.version + "-" + h.release + ":" + string(rune('0'+h.epoch))
			if got != tt.want || h.arch != "x86_64" || h.sourceRPM != "bash-5.1.8-6.el9_1.src.rpm" {
				t.Errorf("header %+v, want %s", h, tt.want)
			}
		})
	}
}

// encodeBad rewrites the offset of index entry i of a header blob.
func encodeBad(blob []byte, i int, off int32) []byte {
	b := append([]byte(nil), blob...)
	binary.BigEndian.PutUint32(b[8+i*16+8:], uint32(off))
	return b
}
