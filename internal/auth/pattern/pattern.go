package pattern

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// reserved are characters a pattern may not contain; see the package
// documentation.
const reserved = `[]{}\!`

// ErrInvalid is wrapped by every error Compile returns.
var ErrInvalid = errors.New("invalid pattern")

// Pattern is a compiled pattern. The zero Pattern matches nothing.
type Pattern struct {
	src  string
	segs []segment
}

// segment is one '/'-separated part of a pattern: either "**" or a sequence
// of tokens.
type segment struct {
	globstar bool
	toks     []token
}

type tokenKind uint8

const (
	tokLiteral tokenKind = iota // r matches itself
	tokOne                      // '?'
	tokStar                     // '*'
)

type token struct {
	kind tokenKind
	r    rune
}

// Compile parses p. Errors wrap ErrInvalid and say what is wrong and where.
func Compile(p string) (Pattern, error) {
	if p == "" {
		return Pattern{}, fmt.Errorf("%w: empty", ErrInvalid)
	}
	if !utf8.ValidString(p) {
		return Pattern{}, fmt.Errorf("%w %q: not valid UTF-8", ErrInvalid, p)
	}
	for i, r := range p {
		switch {
		case strings.ContainsRune(reserved, r):
			return Pattern{}, fmt.Errorf("%w %q: %q at offset %d is reserved (character classes, alternatives, escapes and negation are not supported)", ErrInvalid, p, r, i)
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return Pattern{}, fmt.Errorf("%w %q: white space or control character %q at offset %d", ErrInvalid, p, r, i)
		}
	}
	parts := strings.Split(p, "/")
	segs := make([]segment, 0, len(parts))
	for i, part := range parts {
		if part == "" {
			return Pattern{}, fmt.Errorf("%w %q: empty segment %d (leading, trailing or doubled '/')", ErrInvalid, p, i+1)
		}
		if part == "**" {
			// "**/**" means the same as "**"; keeping one is cheaper.
			if len(segs) > 0 && segs[len(segs)-1].globstar {
				continue
			}
			segs = append(segs, segment{globstar: true})
			continue
		}
		if strings.Contains(part, "**") {
			return Pattern{}, fmt.Errorf("%w %q: segment %q: \"**\" must be a whole segment", ErrInvalid, p, part)
		}
		toks := make([]token, 0, len(part))
		for _, r := range part {
			switch r {
			case '?':
				toks = append(toks, token{kind: tokOne})
			case '*':
				toks = append(toks, token{kind: tokStar})
			default:
				toks = append(toks, token{kind: tokLiteral, r: r})
			}
		}
		segs = append(segs, segment{toks: toks})
	}
	return Pattern{src: p, segs: segs}, nil
}

// MustCompile is Compile for patterns known to be valid; it panics on an
// invalid one.
func MustCompile(p string) Pattern {
	c, err := Compile(p)
	if err != nil {
		panic(err)
	}
	return c
}

// String returns the pattern as it was written.
func (p Pattern) String() string { return p.src }

// MarshalText returns the pattern as it was written.
func (p Pattern) MarshalText() ([]byte, error) { return []byte(p.src), nil }

// UnmarshalText compiles text into p, so a Pattern can be a field of a
// configuration struct.
func (p *Pattern) UnmarshalText(text []byte) error {
	c, err := Compile(string(text))
	if err != nil {
		return err
	}
	*p = c
	return nil
}

// Match reports whether s matches the whole pattern.
func (p Pattern) Match(s string) bool {
	if p.segs == nil {
		return false
	}
	return matchSegments(p.segs, strings.Split(s, "/"))
}

// matchSegments matches pattern segments against subject segments, "**"
// standing for any run of subject segments. It is the classic wildcard
// algorithm: walk both, and on a mismatch go back to just after the last
// "**" and let it swallow one more segment. Every non-"**" pattern segment
// consumes exactly one subject segment, which is what makes remembering only
// the last "**" enough, and bounds the work by len(segs)*len(subj) segment
// matches.
func matchSegments(segs []segment, subj []string) bool {
	pi, si := 0, 0
	star, starSi := -1, 0
	for si < len(subj) {
		switch {
		case pi < len(segs) && segs[pi].globstar:
			star, starSi = pi, si
			pi++
		case pi < len(segs) && matchSegment(segs[pi].toks, subj[si]):
			pi++
			si++
		case star >= 0:
			starSi++
			pi, si = star+1, starSi
		default:
			return false
		}
	}
	for pi < len(segs) && segs[pi].globstar {
		pi++
	}
	return pi == len(segs)
}

// matchSegment matches one segment's tokens against s, which holds no '/'.
// The same algorithm as matchSegments, one level down: '*' is the star,
// literals and '?' consume exactly one character.
func matchSegment(toks []token, s string) bool {
	ti, si := 0, 0
	star, starSi := -1, 0
	for si < len(s) {
		r, w := utf8.DecodeRuneInString(s[si:])
		switch {
		case ti < len(toks) && toks[ti].kind == tokStar:
			star, starSi = ti, si
			ti++
		case ti < len(toks) && (toks[ti].kind == tokOne || toks[ti].r == r):
			ti++
			si += w
		case star >= 0:
			_, sw := utf8.DecodeRuneInString(s[starSi:])
			starSi += sw
			ti, si = star+1, starSi
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].kind == tokStar {
		ti++
	}
	return ti == len(toks)
}
