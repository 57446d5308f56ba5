package version

import (
	"errors"
	"strings"
)

// apkKind is the kind of an apk version token. The order matters: when two
// versions agree on every token up to the point where one has a token
// the other has not, the one whose next token kind is larger sorts first
// (a pre-release suffix is handled separately).
type apkKind int

const (
	apkInitialDigit apkKind = iota // the first number
	apkDigit                       // a further ".number"
	apkLetter                      // one letter right after a number
	apkSuffix                      // "_alpha", "_p", …
	apkSuffixNo                    // the number after a suffix
	apkCommitHash                  // "~" followed by hex digits
	apkRevision                    // "-rN"
	apkEnd
)

// apk suffixes, in order; those before apkSuffixNone are pre-releases.
var apkSuffixes = []string{"alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p"}

const apkSuffixNone = 4

type apkToken struct {
	kind   apkKind
	text   string // digits, letter or hash
	suffix int    // index into apkSuffixes
}

type apkVersion []apkToken

// parseApk parses digits{.digits}[letter]{_suffix[digits]}[~hash][-rN].
func parseApk(s string) (apkVersion, error) {
	s = strings.TrimSpace(s)
	n := digitRun(s)
	if n == 0 {
		return nil, errors.New("does not start with a digit")
	}
	v := apkVersion{{kind: apkInitialDigit, text: s[:n]}}
	s = s[n:]
	last := apkInitialDigit
	for s != "" {
		var t apkToken
		switch c := s[0]; {
		case isLower(c):
			if last > apkDigit {
				return nil, errors.New("letter not right after a number")
			}
			t = apkToken{kind: apkLetter, text: s[:1]}
			s = s[1:]
		case c == '.':
			if last > apkDigit {
				return nil, errors.New("number after a letter or suffix")
			}
			n := digitRun(s[1:])
			if n == 0 {
				return nil, errors.New("no number after '.'")
			}
			t = apkToken{kind: apkDigit, text: s[1 : 1+n]}
			s = s[1+n:]
		case isDigit(c):
			if last != apkSuffix {
				return nil, errors.New("unexpected number")
			}
			n := digitRun(s)
			t = apkToken{kind: apkSuffixNo, text: s[:n]}
			s = s[n:]
		case c == '_':
			if last > apkSuffixNo {
				return nil, errors.New("suffix after hash or revision")
			}
			n := 1
			for n < len(s) && isLower(s[n]) {
				n++
			}
			idx := -1
			for k, name := range apkSuffixes {
				if name != "" && name == s[1:n] {
					idx = k
				}
			}
			if idx < 0 {
				return nil, errors.New("unknown suffix " + s[:n])
			}
			t = apkToken{kind: apkSuffix, suffix: idx}
			s = s[n:]
		case c == '~':
			if last >= apkCommitHash {
				return nil, errors.New("misplaced '~'")
			}
			n := 1
			for n < len(s) && isHex(s[n]) {
				n++
			}
			if n == 1 {
				return nil, errors.New("empty commit hash")
			}
			t = apkToken{kind: apkCommitHash, text: s[1:n]}
			s = s[n:]
		case c == '-':
			if last >= apkRevision || !strings.HasPrefix(s, "-r") {
				return nil, errors.New("misplaced '-' (only -rN is allowed)")
			}
			n := digitRun(s[2:])
			if n == 0 {
				return nil, errors.New("no number after -r")
			}
			t = apkToken{kind: apkRevision, text: s[2 : 2+n]}
			s = s[2+n:]
		default:
			return nil, errors.New("invalid character")
		}
		v = append(v, t)
		last = t.kind
	}
	return v, nil
}

func isHex(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }

func compareApkToken(a, b apkToken) int {
	switch a.kind {
	case apkDigit:
		// A leading zero in either makes the comparison textual, as in
		// Gentoo's rules that apk follows: 1.01 < 1.1, 1.001 < 1.01.
		if a.text[0] == '0' || b.text[0] == '0' {
			return strings.Compare(a.text, b.text)
		}
		return cmpNum(a.text, b.text)
	case apkInitialDigit, apkSuffixNo, apkRevision:
		return cmpNum(a.text, b.text)
	case apkSuffix:
		return a.suffix - b.suffix
	}
	return strings.Compare(a.text, b.text) // letter, commit hash
}

func compareApk(a, b apkVersion) int {
	i := 0
	for ; i < len(a) && i < len(b) && a[i].kind == b[i].kind; i++ {
		if c := compareApkToken(a[i], b[i]); c != 0 {
			return c
		}
	}
	ak, bk := apkEnd, apkEnd
	if i < len(a) {
		ak = a[i].kind
	}
	if i < len(b) {
		bk = b[i].kind
	}
	switch {
	case ak == bk:
		return 0
	case ak == apkSuffix && a[i].suffix < apkSuffixNone:
		return -1
	case bk == apkSuffix && b[i].suffix < apkSuffixNone:
		return 1
	case ak > bk:
		return -1
	}
	return 1
}
