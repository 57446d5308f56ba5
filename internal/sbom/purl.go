package sbom

import (
	"sort"
	"strings"
)

// packageURL builds the package URL (https://github.com/package-url/purl-spec)
// of a found package: pkg:type/namespace/name@version?qualifiers, each part
// percent-encoded, qualifiers sorted by key.
func packageURL(f found, o OS) string {
	distro := ""
	if o.ID != "" {
		distro = o.ID
		if o.VersionID != "" {
			distro += "-" + o.VersionID
		}
	}
	orDefault := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	switch f.Type {
	case TypeDeb:
		q := map[string]string{"arch": f.arch, "distro": distro}
		if f.Source != f.Name {
			q["upstream"] = f.Source
		}
		return purl("deb", orDefault(o.ID, "debian"), f.Name, f.Version, q)
	case TypeAPK:
		q := map[string]string{"arch": f.arch, "distro": distro}
		if f.Source != f.Name {
			q["upstream"] = f.Source
		}
		return purl("apk", orDefault(o.ID, "alpine"), f.Name, f.Version, q)
	case TypeRPM:
		ns := o.ID
		if ns == "rhel" {
			ns = "redhat"
		}
		q := map[string]string{"arch": f.arch, "distro": distro, "epoch": f.epoch, "upstream": f.upstream}
		v := f.Version
		if f.epoch != "" {
			v = strings.TrimPrefix(v, f.epoch+":")
		}
		return purl("rpm", ns, f.Name, v, q)
	case TypeGoModule:
		ns, name := "", f.Name
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			ns, name = name[:i], name[i+1:]
		}
		v := f.Version
		if v == "(devel)" {
			v = ""
		}
		return purl("golang", ns, name, v, nil)
	case TypeNPM:
		ns, name := "", f.Name
		if strings.HasPrefix(name, "@") {
			if i := strings.IndexByte(name, '/'); i > 0 {
				ns, name = name[:i], name[i+1:]
			}
		}
		return purl("npm", ns, name, f.Version, nil)
	case TypePython:
		return purl("pypi", "", strings.ReplaceAll(strings.ToLower(f.Name), "_", "-"), f.Version, nil)
	}
	return ""
}

func purl(typ, namespace, name, version string, qualifiers map[string]string) string {
	var b strings.Builder
	b.WriteString("pkg:")
	b.WriteString(typ)
	b.WriteByte('/')
	if namespace != "" {
		for _, seg := range strings.Split(namespace, "/") {
			if seg != "" {
				b.WriteString(escape(seg, false))
				b.WriteByte('/')
			}
		}
	}
	b.WriteString(escape(name, false))
	if version != "" {
		b.WriteByte('@')
		b.WriteString(escape(version, true))
	}
	keys := make([]string, 0, len(qualifiers))
	for k, v := range qualifiers {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(escape(qualifiers[k], true))
	}
	return b.String()
}

// escape percent-encodes everything but unreserved characters (and ':'
// where the purl spec allows it unencoded).
func escape(s string, colonOK bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '-', c == '_', c == '~', colonOK && c == ':':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
