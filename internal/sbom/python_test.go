package sbom

import (
	"strings"
	"testing"
)

func TestPython(t *testing.T) {
	r := build(t, Options{}, []entry{
		file("usr/lib/python3/dist-packages/certifi-2022.9.24.dist-info/METADATA", pyMetadata("certifi", "2022.9.24")),
		file("usr/local/lib/python3.12/site-packages/Django-4.2.1.dist-info/METADATA", "Metadata-Version: 2.1\r\nname: Django\r\nversion: 4.2.1\r\n\r\n"),
		file("opt/venv/lib/python3.11/site-packages/typing_extensions-4.9.0.dist-info/METADATA", pyMetadata("typing_extensions", "4.9.0")),
		file("usr/lib/python3.6/site-packages/chardet-3.0.4-py3.6.egg-info/PKG-INFO", "Metadata-Version: 1.1\nName: chardet\nVersion: 3.0.4\n"),
		file("usr/lib/python3/dist-packages/six-1.16.0.egg-info", "Metadata-Version: 1.2\nName: six\nVersion: 1.16.0\n"),
		file("usr/lib/python3/dist-packages/broken-1.dist-info/METADATA", "\x00\x01\x02"),
		file("usr/lib/python3/dist-packages/empty.dist-info/RECORD", "six.py,sha256=x,1\n"),
	})
	want := []string{
		"python Django 4.2.1 /usr/local/lib/python3.12/site-packages/Django-4.2.1.dist-info/METADATA",
		"python certifi 2022.9.24 /usr/lib/python3/dist-packages/certifi-2022.9.24.dist-info/METADATA",
		"python chardet 3.0.4 /usr/lib/python3.6/site-packages/chardet-3.0.4-py3.6.egg-info/PKG-INFO",
		"python six 1.16.0 /usr/lib/python3/dist-packages/six-1.16.0.egg-info",
		"python typing_extensions 4.9.0 /opt/venv/lib/python3.11/site-packages/typing_extensions-4.9.0.dist-info/METADATA",
	}
	if got := summary(r.Packages); !equalStrings(got, want) {
		t.Fatalf("packages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	tests := []struct{ name, purl string }{
		{"Django", "pkg:pypi/django@4.2.1"},
		{"typing_extensions", "pkg:pypi/typing-extensions@4.9.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := findPackage(r, TypePython, tt.name)
			if p.PURL != tt.purl || p.Ecosystem != "PyPI" {
				t.Errorf("%+v, want purl %s", p, tt.purl)
			}
		})
	}
	if !hasWarning(r, "broken-1.dist-info/METADATA") {
		t.Errorf("no warning for the broken METADATA: %q", r.Warnings)
	}
}
