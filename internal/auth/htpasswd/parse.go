package htpasswd

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// bcryptAlphabet is the base64 alphabet bcrypt encodes salt and hash in.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// bcryptLen is the length of a bcrypt hash: "$2y$", two cost digits, '$',
// 22 characters of salt and 31 of hash.
const bcryptLen = 60

// entry is one user of a file.
type entry struct {
	hash []byte
	cost int
	line int
}

// parse reads the entries of an htpasswd file. path only names the file in
// errors. Errors never quote a hash or a line, which could hold a password.
func parse(path string, data []byte) (map[string]entry, error) {
	users := make(map[string]entry)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("htpasswd %s line %d: no ':' between user name and hash", path, n)
		}
		if user == "" {
			return nil, fmt.Errorf("htpasswd %s line %d: empty user name", path, n)
		}
		if prev, dup := users[user]; dup {
			return nil, fmt.Errorf("htpasswd %s line %d: user %q is already defined on line %d", path, n, user, prev.line)
		}
		cost, err := checkHash(hash)
		if err != nil {
			return nil, fmt.Errorf("htpasswd %s line %d: user %q: %w", path, n, user, err)
		}
		users[user] = entry{hash: []byte(hash), cost: cost, line: n}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("htpasswd %s line %d: %w", path, n+1, err)
	}
	return users, nil
}

// checkHash returns the cost of a well-formed bcrypt hash, or says what kind
// of hash it is instead, without quoting it.
func checkHash(h string) (int, error) {
	if !strings.HasPrefix(h, "$2y$") && !strings.HasPrefix(h, "$2a$") && !strings.HasPrefix(h, "$2b$") {
		return 0, fmt.Errorf("%s; only bcrypt hashes ($2y$, $2a$, $2b$, as written by `htpasswd -B`) are accepted", hashKind(h))
	}
	if len(h) != bcryptLen {
		return 0, fmt.Errorf("malformed bcrypt hash: %d characters, want %d", len(h), bcryptLen)
	}
	if !isDigit(h[4]) || !isDigit(h[5]) || h[6] != '$' {
		return 0, fmt.Errorf("malformed bcrypt hash: no two-digit cost after the prefix")
	}
	cost := int(h[4]-'0')*10 + int(h[5]-'0')
	if cost < 4 || cost > 31 {
		return 0, fmt.Errorf("malformed bcrypt hash: cost %d is not between 4 and 31", cost)
	}
	for i := 7; i < len(h); i++ {
		if !strings.ContainsRune(bcryptAlphabet, rune(h[i])) {
			return 0, fmt.Errorf("malformed bcrypt hash: bad character at offset %d", i)
		}
	}
	return cost, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// hashKind names the format of a hash that is not bcrypt.
func hashKind(h string) string {
	switch {
	case h == "":
		return "empty hash"
	case strings.HasPrefix(h, "$apr1$"):
		return "MD5 ($apr1$) hash"
	case strings.HasPrefix(h, "{SHA}"):
		return "SHA-1 ({SHA}) hash"
	case strings.HasPrefix(h, "$1$"):
		return "MD5-crypt ($1$) hash"
	case strings.HasPrefix(h, "$5$"):
		return "SHA-256-crypt ($5$) hash"
	case strings.HasPrefix(h, "$6$"):
		return "SHA-512-crypt ($6$) hash"
	case strings.HasPrefix(h, "$2"):
		return "unsupported bcrypt variant"
	case len(h) == 13 && strings.Trim(h, bcryptAlphabet) == "":
		return "DES crypt hash (or a plain-text password)"
	default:
		return "plain-text password or unknown hash format"
	}
}
