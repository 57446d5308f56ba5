package pattern

import (
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// refValid is an independent statement of which patterns Compile accepts.
func refValid(p string) bool {
	if p == "" || !utf8.ValidString(p) || strings.ContainsAny(p, `[]{}\!`) {
		return false
	}
	if strings.IndexFunc(p, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || (seg != "**" && strings.Contains(seg, "**")) {
			return false
		}
	}
	return true
}

// refRegexp translates a valid pattern to a regular expression matched
// against "/" + subject: each segment becomes "/" followed by its
// characters, and "**" becomes any number of "/segment".
func refRegexp(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^`)
	for _, seg := range strings.Split(p, "/") {
		if seg == "**" {
			b.WriteString(`(?:/[^/]*)*`)
			continue
		}
		b.WriteString(`/`)
		for _, r := range seg {
			switch r {
			case '?':
				b.WriteString(`[^/]`)
			case '*':
				b.WriteString(`[^/]*`)
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

func FuzzMatch(f *testing.F) {
	seeds := []struct{ pattern, subject string }{
		{"team/**", "team/a/b"},
		{"**/app", "app"},
		{"a/**/b", "a/x/y/b"},
		{"*a*a*b", "aaaaab"},
		{"v?.*", "v1.2.3"},
		{"**/**/x", "a//x"},
		{"a**b", "ab"},
		{"?", "\xff"},
		{"\uFFFD*", "\xffz"},
		{"", ""},
	}
	for _, s := range seeds {
		f.Add(s.pattern, s.subject)
	}
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		p, err := Compile(pattern)
		if valid := refValid(pattern); (err == nil) != valid {
			t.Fatalf("Compile(%q) error = %v, but the reference says valid = %v", pattern, err, valid)
		}
		got := p.Match(subject) // must not panic, even for the zero Pattern
		if err != nil {
			if got {
				t.Fatalf("zero Pattern matched %q", subject)
			}
			return
		}
		if p.String() != pattern {
			t.Fatalf("String = %q, want %q", p.String(), pattern)
		}
		if want := refRegexp(pattern).MatchString("/" + subject); got != want {
			t.Fatalf("%q.Match(%q) = %v, reference says %v", pattern, subject, got, want)
		}
	})
}
