package pattern

import (
	"errors"
	"strings"
	"testing"
)

func TestCompileRefuses(t *testing.T) {
	tests := []struct {
		name, pattern, wantInErr string
	}{
		{"empty", "", "empty"},
		{"leading slash", "/team", "empty segment 1"},
		{"trailing slash", "team/", "empty segment 2"},
		{"double slash", "team//app", "empty segment 2"},
		{"only slash", "/", "empty segment"},
		{"triple star", "***", "whole segment"},
		{"four stars", "****", "whole segment"},
		{"globstar inside", "a**b", "whole segment"},
		{"globstar prefix", "team/**app", "whole segment"},
		{"globstar suffix", "team**/app", "whole segment"},
		{"star globstar", "*/***/x", "whole segment"},
		{"class", "team/[ab]", "reserved"},
		{"close bracket", "team/a]", "reserved"},
		{"alternative", "team/{a,b}", "reserved"},
		{"escape", `team/\*`, "reserved"},
		{"negation", "!team/app", "reserved"},
		{"space", "team app", "white space"},
		{"tab", "team\tapp", "white space"},
		{"newline", "team/app\n", "white space"},
		{"nul", "team\x00", "control"},
		{"invalid utf8", "team/\xff", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.pattern)
			if err == nil {
				t.Fatalf("Compile(%q) = %v, want an error", tt.pattern, p)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantInErr)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern string
		yes, no []string
	}{
		{"library/alpine", []string{"library/alpine"}, []string{"library/alpin", "library/alpine/x", "library", "", "/library/alpine", "library/alpine/"}},
		{"a/b/c-d_e.f", []string{"a/b/c-d_e.f"}, []string{"a/b/c-d_e.g", "a/b"}},
		{"latest", []string{"latest"}, []string{"Latest", "latest2", "x/latest"}},
		{"?", []string{"a", "é", "\xff"}, []string{"", "ab", "/"}},
		{"a?c", []string{"abc", "a.c", "aéc"}, []string{"ac", "abbc", "a/c"}},
		{"*", []string{"", "a", "latest", "v1.2.3"}, []string{"/", "a/b"}},
		{"a*", []string{"a", "abc", "a*"}, []string{"", "ba", "a/b"}},
		{"*a", []string{"a", "bca"}, []string{"ab", "b/a"}},
		{"a*b*c", []string{"abc", "aXbYc", "abbbc", "acbc"}, []string{"ab", "acb", "a/b/c", "aXb/c"}},
		{"*-rc?", []string{"1.0-rc1", "-rcX"}, []string{"1.0-rc", "1.0-rc12"}},
		{"**", []string{"", "a", "a/b", "a/b/c/d/e", "/", "//", "v1.2.3"}, nil},
		{"**/**", []string{"", "a", "a/b/c"}, nil},
		{"team/**", []string{"team", "team/", "team/a", "team/a/b", "team/a/b/c"}, []string{"teams", "tea", "x/team", "x/team/a", ""}},
		{"team/*/**", []string{"team/a", "team/a/b", "team/"}, []string{"team", "teams/a"}},
		{"**/app", []string{"app", "x/app", "x/y/app", "/app"}, []string{"app/x", "xapp", "x/yapp", ""}},
		{"a/**/b", []string{"a/b", "a/x/b", "a/x/y/z/b", "a//b"}, []string{"ab", "a/b/c", "x/a/b", "a/xb", "ax/b"}},
		{"a/**/b/**/c", []string{"a/b/c", "a/x/b/y/c", "a/b/b/c", "a/x/b/b/y/c"}, []string{"a/c", "a/b", "a/x/c", "b/c"}},
		{"**/b/*", []string{"b/x", "a/b/x", "a/b/b/x"}, []string{"b", "a/b", "a/b/x/y"}},
		{"*/**/*", []string{"a/b", "a/x/y/b"}, []string{"a", ""}},
		{"**/*", []string{"a", "", "a/b"}, nil},
		{"ä/*", []string{"ä/x"}, []string{"a/x", "ä"}},
		{"\uFFFD", []string{"\uFFFD", "\xff"}, []string{"", "\xff\xff"}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			p, err := Compile(tt.pattern)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.pattern, err)
			}
			for _, s := range tt.yes {
				if !p.Match(s) {
					t.Errorf("%q does not match %q, want a match", tt.pattern, s)
				}
			}
			for _, s := range tt.no {
				if p.Match(s) {
					t.Errorf("%q matches %q, want no match", tt.pattern, s)
				}
			}
		})
	}
}

// TestPathological runs inputs on which a backtracking matcher takes
// exponential time. No timing is asserted: an exponential matcher would not
// finish within the test timeout.
func TestPathological(t *testing.T) {
	long := strings.Repeat("a", 10000)
	deep := strings.TrimSuffix(strings.Repeat("a/", 2000), "/")
	tests := []struct {
		name, pattern, subject string
		want                   bool
	}{
		{"stars no match", "*a*a*a*a*a*a*a*a*a*a*b", long, false},
		{"stars match", "*a*a*a*a*a*a*a*a*a*a*b", long + "b", true},
		{"globstars no match", "**/a/**/a/**/a/**/a/**/a/**/x", deep, false},
		{"globstars match", "**/a/**/a/**/a/**/a/**/a/**/x", deep + "/x", true},
		{"globstar chain", "**/**/**/**/x", deep, false},
		{"stars in deep path", "**/*a*a*a*a*b/**", deep, false},
		{"question marks", strings.Repeat("?", 64) + "*b", long, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MustCompile(tt.pattern).Match(tt.subject); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestZeroPatternMatchesNothing(t *testing.T) {
	var p Pattern
	for _, s := range []string{"", "a", "a/b"} {
		if p.Match(s) {
			t.Errorf("zero Pattern matches %q", s)
		}
	}
	if p.String() != "" {
		t.Errorf("zero Pattern String = %q", p.String())
	}
}

func TestMustCompile(t *testing.T) {
	tests := []struct {
		pattern   string
		wantPanic bool
	}{
		{"team/**", false},
		{"a**b", true},
		{"", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			defer func() {
				if got := recover() != nil; got != tt.wantPanic {
					t.Errorf("panicked = %v, want %v", got, tt.wantPanic)
				}
			}()
			p := MustCompile(tt.pattern)
			if p.String() != tt.pattern {
				t.Errorf("String = %q, want %q", p.String(), tt.pattern)
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		text    string
		wantErr bool
		match   string
	}{
		{"team/**", false, "team/a/b"},
		{"v1.*", false, "v1.2"},
		{"a**", true, ""},
		{"", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			var p Pattern
			err := p.UnmarshalText([]byte(tt.text))
			if (err != nil) != tt.wantErr {
				t.Fatalf("UnmarshalText(%q) error = %v, want error %v", tt.text, err, tt.wantErr)
			}
			if tt.wantErr {
				if p.Match("") || p.String() != "" {
					t.Errorf("failed UnmarshalText changed the pattern to %q", p.String())
				}
				return
			}
			if !p.Match(tt.match) {
				t.Errorf("%q does not match %q", tt.text, tt.match)
			}
			out, err := p.MarshalText()
			if err != nil || string(out) != tt.text {
				t.Errorf("MarshalText = %q, %v; want %q", out, err, tt.text)
			}
		})
	}
}
