package sbom

import (
	"bytes"
	"strings"
)

const maxOSFile = 64 << 10

// detectOS reads os-release (etc/ first, then usr/lib/, following
// symlinks), falling back to etc/alpine-release and etc/debian_version. It
// also returns ID_LIKE for warnings.
func (s *state) detectOS() (OS, string) {
	for _, p := range osFiles[:2] {
		if _, n := s.lookup(p); n != nil && n.kind != kindNone {
			kv := parseOSRelease(n.data)
			if kv["ID"] != "" {
				return OS{ID: kv["ID"], VersionID: kv["VERSION_ID"], PrettyName: kv["PRETTY_NAME"]}, kv["ID_LIKE"]
			}
		}
	}
	if _, n := s.lookup("etc/alpine-release"); n != nil {
		if v := firstLine(n.data); validToken(v, 64) {
			return OS{ID: "alpine", VersionID: v, PrettyName: "Alpine Linux v" + majorMinor(v)}, ""
		}
	}
	if _, n := s.lookup("etc/debian_version"); n != nil {
		if v := firstLine(n.data); validToken(v, 64) {
			o := OS{ID: "debian", PrettyName: "Debian GNU/Linux " + v}
			if m := major(v); m != "" && isDigits(m) {
				o.VersionID = m
			}
			return o, ""
		}
	}
	return OS{}, ""
}

// parseOSRelease parses the os-release format: KEY=value lines, values
// optionally in single or double quotes with backslash escapes.
func parseOSRelease(data []byte) map[string]string {
	if len(data) > maxOSFile {
		data = data[:maxOSFile]
	}
	kv := map[string]string{}
	for _, line := range bytes.Split(data, []byte("\n")) {
		l := strings.TrimSpace(string(line))
		if l == "" || l[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || !validToken(k, 64) {
			continue
		}
		v = unquote(v)
		if !printable(v, 256) {
			continue
		}
		kv[k] = v
	}
	return kv
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		q := v[0]
		v = v[1 : len(v)-1]
		if q == '"' {
			var b strings.Builder
			for i := 0; i < len(v); i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				b.WriteByte(v[i])
			}
			v = b.String()
		}
	}
	return v
}

// printable reports whether s is at most max bytes of printable ASCII
// (spaces allowed).
func printable(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b))
}

func major(v string) string {
	m, _, _ := strings.Cut(v, ".")
	return m
}

func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return v
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ecosystem names the OSV ecosystem of a package type on a distribution,
// or "" when OSV has none we know of.
func ecosystem(typ string, o OS) string {
	switch typ {
	case TypeGoModule:
		return "Go"
	case TypeNPM:
		return "npm"
	case TypePython:
		return "PyPI"
	case TypeDeb:
		switch o.ID {
		case "debian":
			if m := major(o.VersionID); isDigits(m) {
				return "Debian:" + m
			}
		case "ubuntu":
			if o.VersionID != "" {
				return "Ubuntu:" + o.VersionID
			}
		}
	case TypeAPK:
		switch o.ID {
		case "alpine":
			if o.VersionID != "" {
				return "Alpine:v" + majorMinor(o.VersionID)
			}
		case "wolfi":
			return "Wolfi"
		case "chainguard":
			return "Chainguard"
		}
	case TypeRPM:
		m := major(o.VersionID)
		switch o.ID {
		case "rocky":
			if isDigits(m) {
				return "Rocky Linux:" + m
			}
		case "almalinux":
			if isDigits(m) {
				return "AlmaLinux:" + m
			}
		case "rhel":
			return "Red Hat"
		case "mageia":
			if isDigits(m) {
				return "Mageia:" + m
			}
		case "opensuse-leap":
			return "openSUSE:Leap " + o.VersionID
		case "opensuse-tumbleweed":
			return "openSUSE:Tumbleweed"
		case "sles":
			if mj, mn, ok := strings.Cut(o.VersionID, "."); ok && mn != "0" {
				return "SUSE:Linux Enterprise Server " + mj + " SP" + mn
			}
			return "SUSE:Linux Enterprise Server " + m
		}
	}
	return ""
}
