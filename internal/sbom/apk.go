package sbom

// parseAPK reads the apk database (lib/apk/db/installed): one paragraph per
// package, single-letter fields "P:" name, "V:" version, "o:" origin (the
// source package), "A:" architecture.
func parseAPK(data []byte) ([]found, []string) {
	var w fileWarnings
	var out []found
	invalid := 0
	paragraphs(data, []string{"P", "V", "o", "A"}, false, &w, func(f map[string]string) bool {
		if f["P"] == "" && f["V"] == "" {
			return true
		}
		name, version, origin := f["P"], f["V"], f["o"]
		if origin == "" {
			origin = name
		}
		if !validToken(name, maxNameLen) || !validToken(version, maxVersionLen) || !validToken(origin, maxNameLen) {
			invalid++
			return true
		}
		arch := f["A"]
		if !validToken(arch, 64) {
			arch = ""
		}
		out = append(out, found{Package: Package{Name: name, Version: version, Source: origin, Type: TypeAPK}, arch: arch})
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
