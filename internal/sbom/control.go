package sbom

import (
	"bytes"
	"strings"
)

const maxLine = 64 << 10

// paragraphs splits a control-style file (dpkg status, apk installed, RFC
// 822 headers) into blank-line separated paragraphs and calls fn with the
// wanted fields of each. A field is "Key:value" on one line (a space after
// the colon is optional); continuation lines, which start with a space or a
// tab, are ignored: no field we want spans lines. Keys compare without
// case when fold is set (dpkg and RFC 822), exactly otherwise (apk uses
// "P:" for the name and "p:" for provides). Overlong and binary lines
// are reported once each and skipped. fn returns false to stop.
func paragraphs(data []byte, wanted []string, fold bool, w *fileWarnings, fn func(map[string]string) bool) {
	var cur map[string]string
	long, junk := false, false
	flush := func() bool {
		if cur == nil {
			return true
		}
		c := cur
		cur = nil
		return fn(c)
	}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			if !flush() {
				return
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		if len(line) > maxLine {
			if !long {
				long = true
				w.add("lines longer than %d bytes skipped", maxLine)
			}
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || !validToken(string(k), 64) {
			if !junk {
				junk = true
				w.add("malformed lines skipped")
			}
			continue
		}
		for _, want := range wanted {
			if string(k) == want || fold && strings.EqualFold(string(k), want) {
				if cur == nil {
					cur = map[string]string{}
				}
				cur[want] = string(bytes.TrimSpace(v))
			}
		}
		if cur == nil {
			cur = map[string]string{}
		}
	}
	flush()
}
