// Package config holds berth's one typed configuration and everything that
// fills it: defaults, a versioned YAML file and BERTH_* environment
// variables, plus Validate and a table of every key for the documentation.
//
// Precedence, lowest to highest: defaults, the file, the environment, and
// command-line flags (applied by cmd/berth on top of what Load returns).
//
// Nothing here is written per key. The leaf fields of Config carry a `key`
// tag (the dotted path) and a `desc` tag; YAML decoding, environment
// overrides, Keys and the Markdown table are all derived from those tags by
// reflection. Adding a key means adding a field with both tags, a default in
// Default, and a Validate rule if it needs one; docs/configuration.md is then
// regenerated with `go generate ./internal/config` (a test fails until it is).
//
// Supported leaf types: string, bool, int/int64, time.Duration ("30s"),
// byte sizes (int64 fields whose key ends in "size": 1048576, "512MiB",
// "4MB") and []string (a YAML list, or comma-separated in the environment).
package config

//go:generate go test -run TestConfigurationDoc . -args -update
