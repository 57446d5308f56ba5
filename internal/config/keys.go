package config

import (
	"reflect"
	"strings"
)

// Key describes one configuration key, for documentation and tooling.
type Key struct {
	Path        string // dotted path, also the YAML path: "http.addr"
	Env         string // environment variable: "BERTH_HTTP_ADDR"; "" if file-only
	Type        string // string, bool, int, duration, size or list
	Default     string // the default, written as in a config file
	Description string // from the field's desc tag
}

// Keys lists every configuration key in declaration order.
func Keys() []Key {
	def := reflect.ValueOf(Default())
	fields := mustFields(def.Type())
	keys := make([]Key, len(fields))
	for i, f := range fields {
		keys[i] = Key{
			Path:        f.key,
			Env:         f.env,
			Type:        f.kind.String(),
			Default:     formatValue(def.FieldByIndex(f.index), f.kind),
			Description: f.desc,
		}
	}
	return keys
}

// MarkdownTable renders keys as the Markdown table in docs/configuration.md:
// key | environment | type | default | meaning.
func MarkdownTable(keys []Key) string {
	var b strings.Builder
	b.WriteString("| Key | Environment | Type | Default | Meaning |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, k := range keys {
		env := "(file only)"
		if k.Env != "" {
			env = code(k.Env)
		}
		def := "(empty)"
		if k.Default != "" {
			def = code(k.Default)
		}
		b.WriteString("| " + code(k.Path) + " | " + env + " | " + k.Type + " | " + def + " | " + mdText(k.Description) + " |\n")
	}
	return b.String()
}

func code(s string) string { return "`" + strings.ReplaceAll(s, "|", `\|`) + "`" }

var mdEscaper = strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;")

func mdText(s string) string { return mdEscaper.Replace(s) }
