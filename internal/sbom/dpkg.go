package sbom

import "strings"

// parseDpkgStatus reads a dpkg status file (var/lib/dpkg/status) or one
// distroless var/lib/dpkg/status.d/<name> file. In the status file a
// package counts only when its Status says it is installed ("install ok
// installed", and also "hold ok installed": a held package is installed);
// in status.d files there is usually no Status field, and then every
// paragraph counts.
func parseDpkgStatus(data []byte, needStatus bool) ([]found, []string) {
	var w fileWarnings
	var out []found
	invalid := 0
	paragraphs(data, []string{"Package", "Status", "Version", "Source", "Architecture"}, true, &w, func(f map[string]string) bool {
		name := f["Package"]
		if name == "" && f["Version"] == "" {
			return true
		}
		if st, ok := f["Status"]; ok || needStatus {
			words := strings.Fields(st)
			if len(words) != 3 || words[1] != "ok" || words[2] != "installed" {
				return true
			}
		}
		src := name
		if s := f["Source"]; s != "" {
			src, _, _ = strings.Cut(s, " ") // "glibc (2.36-9)"
		}
		if !validToken(name, maxNameLen) || !validToken(f["Version"], maxVersionLen) || !validToken(src, maxNameLen) {
			invalid++
			return true
		}
		arch := f["Architecture"]
		if !validToken(arch, 64) {
			arch = ""
		}
		out = append(out, found{Package: Package{Name: name, Version: f["Version"], Source: src, Type: TypeDeb}, arch: arch})
		return len(out) < maxPackagesPerFile
	})
	if invalid > 0 {
		w.add("%d paragraphs with an invalid package name or version skipped", invalid)
	}
	if len(out) >= maxPackagesPerFile {
		w.add("more than %d packages: the rest skipped", maxPackagesPerFile)
	}
	return out, w.result()
}

const maxPackagesPerFile = 200000
