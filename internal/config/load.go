package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// CurrentVersion is the only config file version this berth reads.
const CurrentVersion = 1

// Load builds the configuration from the defaults, then the YAML file (when
// file is not ""), then the BERTH_* variables in env (os.Environ form,
// "NAME=value"; an empty value counts as unset). It does not call Validate:
// the caller applies its flags first and validates the result.
//
// Every problem found is reported, joined in one error (errors.Join), each
// naming the file and line or the variable, and the key. When err is not nil
// the returned Config holds the defaults plus whatever could be read, and is
// only good for reporting further problems (e.g. with Validate); a value that
// failed to parse keeps its earlier value.
func Load(file string, env []string) (Config, error) {
	cfg := Default()
	var p problems
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			p.add(err)
		} else {
			decodeFile(&cfg, file, data, &p)
		}
	}
	applyEnv(reflect.ValueOf(&cfg).Elem(), env, &p)
	return cfg, p.err()
}

// problems collects errors to report all at once.
type problems struct{ errs []error }

func (p *problems) add(err error) { p.errs = append(p.errs, err) }

func (p *problems) addf(format string, args ...any) { p.add(fmt.Errorf(format, args...)) }

func (p *problems) err() error { return errors.Join(p.errs...) }

// decodeFile reads one YAML document into cfg. Unknown keys, duplicate keys
// and values of the wrong shape are errors; the walk continues past them so
// that every problem in the file is reported.
func decodeFile(cfg *Config, name string, data []byte, p *problems) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.addf("%s: version: required (the file is empty); this berth reads version %d", name, CurrentVersion)
			return
		}
		p.addf("%s: invalid YAML: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		p.addf("%s: holds more than one YAML document; berth reads exactly one", name)
		return
	}
	root := resolve(&doc)
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = resolve(root.Content[0])
	}
	if isNull(root) {
		p.addf("%s: version: required (the file has no keys); this berth reads version %d", name, CurrentVersion)
		return
	}
	if root.Kind != yaml.MappingNode {
		p.addf("%s:%d: the top level must be a mapping of keys, not %s", name, root.Line, shape(root))
		return
	}
	d := &decoder{file: name, p: p}
	if !d.checkVersion(root) {
		return
	}
	d.mapping(root, reflect.ValueOf(cfg).Elem(), "")
}

type decoder struct {
	file string
	p    *problems
}

func (d *decoder) addf(n *yaml.Node, key, format string, args ...any) {
	d.p.addf("%s:%d: %s: %s", d.file, n.Line, key, fmt.Sprintf(format, args...))
}

// checkVersion reports a missing version (and carries on: the file is most
// likely a version 1 file) or an unsupported one (and stops: its keys may
// mean something else).
func (d *decoder) checkVersion(root *yaml.Node) bool {
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "version" {
			continue
		}
		vn := resolve(root.Content[i+1])
		if vn.Kind != yaml.ScalarNode || vn.Value != fmt.Sprint(CurrentVersion) {
			d.addf(vn, "version", "unsupported version %s; this berth reads version %d", describe(vn), CurrentVersion)
			return false
		}
		return true
	}
	d.p.addf("%s: version: required; add \"version: %d\" at the top", d.file, CurrentVersion)
	return true
}

// mapping decodes the mapping node n into the struct v; prefix is the dotted
// path of v ("" for the root).
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, prefix string) {
	t := v.Type()
	byName := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if sf := t.Field(i); sf.IsExported() {
			byName[yamlName(sf)] = i
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], resolve(n.Content[i+1])
		name := kn.Value
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		if first, dup := seen[name]; dup {
			d.addf(kn, path, "set twice (first on line %d)", first)
			continue
		}
		seen[name] = kn.Line
		idx, ok := byName[name]
		if !ok {
			d.addf(kn, path, "unknown key%s", suggest(path))
			continue
		}
		sf, fv := t.Field(idx), v.Field(idx)
		if key := sf.Tag.Get("key"); key != "" {
			d.leaf(vn, fv, sf, key)
			continue
		}
		switch {
		case vn.Kind == yaml.MappingNode:
			d.mapping(vn, fv, path)
		case isNull(vn):
			// An empty section ("http:" with everything commented out).
		default:
			d.addf(vn, path, "must be a section of keys, not %s", shape(vn))
		}
	}
}

// leaf decodes the value node vn into the leaf field fv.
func (d *decoder) leaf(vn *yaml.Node, fv reflect.Value, sf reflect.StructField, key string) {
	k, err := leafKind(sf, key)
	if err != nil {
		d.addf(vn, key, "%v", err)
		return
	}
	switch {
	case isNull(vn):
		d.addf(vn, key, "has no value")
	case k == kindList && vn.Kind == yaml.SequenceNode:
		items := make([]string, 0, len(vn.Content))
		for _, item := range vn.Content {
			item = resolve(item)
			if item.Kind != yaml.ScalarNode || isNull(item) {
				d.addf(item, key, "list items must be single values, not %s", shape(item))
				return
			}
			items = append(items, item.Value)
		}
		setList(fv, items)
	case k == kindList:
		d.addf(vn, key, "must be a list, not %s", shape(vn))
	case vn.Kind != yaml.ScalarNode:
		d.addf(vn, key, "must be a single %s value, not %s", k, shape(vn))
	default:
		if err := setString(fv, k, vn.Value); err != nil {
			d.addf(vn, key, "%v", err)
		}
	}
}

// resolve follows YAML aliases (*name) to the node they point at.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func shape(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	}
	return "an empty value"
}

func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("%q", n.Value)
	}
	return shape(n)
}

// applyEnv sets every key of the struct root whose BERTH_ variable is
// present in env (later entries win, as in a shell). Variables with the
// BERTH_ prefix that name no key are ignored.
func applyEnv(root reflect.Value, env []string, p *problems) {
	fields := mustFields(root.Type())
	known := make(map[string]bool, len(fields))
	for _, f := range fields {
		if f.env != "" {
			known[f.env] = true
		}
	}
	values := map[string]string{}
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if ok && known[name] {
			values[name] = value
		}
	}
	for _, f := range fields {
		value, ok := values[f.env]
		if !ok || f.env == "" || value == "" {
			continue
		}
		if err := setString(root.FieldByIndex(f.index), f.kind, value); err != nil {
			p.addf("%s (%s): %v", f.env, f.key, err)
		}
	}
}
