package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// kind is how a leaf key is spelled in YAML and the environment.
type kind int

const (
	kindString kind = iota
	kindBool
	kindInt
	kindDuration
	kindSize
	kindList
)

func (k kind) String() string {
	switch k {
	case kindString:
		return "string"
	case kindBool:
		return "bool"
	case kindInt:
		return "int"
	case kindDuration:
		return "duration"
	case kindSize:
		return "size"
	case kindList:
		return "list"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

var durationType = reflect.TypeOf(time.Duration(0))

// field is one leaf key of a configuration struct.
type field struct {
	key   string // dotted path, from the key tag
	env   string // environment variable, "" when the key has env:"-"
	desc  string
	kind  kind
	index []int // for reflect.Value.FieldByIndex from the root struct
}

// envName is the environment variable for a dotted key.
func envName(key string) string {
	return "BERTH_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// leafKind tells how the struct field sf (which has a key tag) is parsed.
func leafKind(sf reflect.StructField, key string) (kind, error) {
	t := sf.Type
	switch {
	case t == durationType:
		return kindDuration, nil
	case t.Kind() == reflect.String:
		return kindString, nil
	case t.Kind() == reflect.Bool:
		return kindBool, nil
	case t.Kind() == reflect.Int64 && strings.HasSuffix(key, "size"):
		return kindSize, nil
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64 || t.Kind() == reflect.Int32:
		return kindInt, nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return kindList, nil
	}
	return 0, fmt.Errorf("config: key %q: unsupported field type %s", key, t)
}

// fieldsOf lists the leaf keys of the struct type t in declaration order.
// Exported fields either carry a key tag (leaves) or are structs without one
// (sections, walked recursively).
func fieldsOf(t reflect.Type) ([]field, error) {
	var out []field
	var walk func(t reflect.Type, index []int) error
	walk = func(t reflect.Type, index []int) error {
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			idx := append(append([]int(nil), index...), i)
			key := sf.Tag.Get("key")
			if key == "" {
				if sf.Type.Kind() != reflect.Struct || sf.Type == durationType {
					return fmt.Errorf("config: field %s has no key tag", sf.Name)
				}
				if err := walk(sf.Type, idx); err != nil {
					return err
				}
				continue
			}
			k, err := leafKind(sf, key)
			if err != nil {
				return err
			}
			f := field{key: key, desc: sf.Tag.Get("desc"), kind: k, index: idx}
			switch tag := sf.Tag.Get("env"); tag {
			case "-": // no environment variable
			case "":
				f.env = envName(key)
			default: // a name of its own, for a variable users know already
				f.env = tag
			}
			out = append(out, f)
		}
		return nil
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("config: %s is not a struct", t)
	}
	if err := walk(t, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// mustFields is fieldsOf for types whose tags are known to be right (Config;
// a test checks it).
func mustFields(t reflect.Type) []field {
	fs, err := fieldsOf(t)
	if err != nil {
		panic(err)
	}
	return fs
}

// yamlName is the YAML key of a struct field: its yaml tag, or the lower-cased
// field name.
func yamlName(sf reflect.StructField) string {
	name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	if name == "" {
		name = strings.ToLower(sf.Name)
	}
	return name
}
