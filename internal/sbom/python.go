package sbom

// parsePythonMetadata reads Python core metadata (a dist-info METADATA or an
// egg-info PKG-INFO): RFC 822 style headers, of which Name and Version
// matter; the body after the first blank line is not read.
func parsePythonMetadata(data []byte) ([]found, []string) {
	var w fileWarnings
	var name, version string
	paragraphs(data, []string{"Name", "Version"}, true, &w, func(f map[string]string) bool {
		name, version = f["Name"], f["Version"]
		return false
	})
	if name == "" && version == "" {
		return nil, append(w.result(), "no Name or Version header")
	}
	if !validToken(name, maxNameLen) || !validToken(version, maxVersionLen) {
		return nil, append(w.result(), "invalid Name or Version header")
	}
	return []found{{Package: Package{Name: name, Version: version, Type: TypePython}}}, w.result()
}
