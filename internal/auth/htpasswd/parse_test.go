package htpasswd

import (
	"strings"
	"testing"
)

// A hash written by libxcrypt's crypt(3) (the crypt_blowfish code htpasswd
// -B descends from) for the password "s3cret-p4ss" at cost 5: a "$2y$" hash
// that Go's bcrypt did not make.
const (
	xcryptHash     = "$2y$05$abcdefghijklmnopqrstuu65ZDstLtpWXejTDazfUkWdFkNYTSwOy"
	xcryptPassword = "s3cret-p4ss"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		users map[string]int // user → line
	}{
		{"empty", "", map[string]int{}},
		{"comments and blanks", "# users\n\n   \n#alice:" + xcryptHash + "\n", map[string]int{}},
		{"one user", "alice:" + xcryptHash + "\n", map[string]int{"alice": 1}},
		{"no final newline", "alice:" + xcryptHash, map[string]int{"alice": 1}},
		{"crlf and white space", "# x\r\n  alice:" + xcryptHash + "  \r\n\r\nbob:" + strings.Replace(xcryptHash, "$2y$", "$2a$", 1) + "\r\n", map[string]int{"alice": 2, "bob": 4}},
		{"all prefixes", "a:" + xcryptHash + "\nb:" + strings.Replace(xcryptHash, "$2y$", "$2a$", 1) + "\nc:" + strings.Replace(xcryptHash, "$2y$", "$2b$", 1) + "\n", map[string]int{"a": 1, "b": 2, "c": 3}},
		{"user names with odd characters", "robot$ci:" + xcryptHash + "\nJoe Smith:" + xcryptHash + "\n", map[string]int{"robot$ci": 1, "Joe Smith": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse("f", []byte(tt.data))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(got) != len(tt.users) {
				t.Errorf("got %d users, want %d", len(got), len(tt.users))
			}
			for u, line := range tt.users {
				e, ok := got[u]
				if !ok {
					t.Errorf("user %q missing", u)
					continue
				}
				if e.line != line || e.cost != 5 || len(e.hash) != bcryptLen {
					t.Errorf("user %q = line %d cost %d hash length %d; want line %d cost 5 length %d", u, e.line, e.cost, len(e.hash), line, bcryptLen)
				}
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	const secret = "HASHSECRET" // never to appear in an error
	tests := []struct {
		name string
		data string
		want []string // substrings of the error
	}{
		{"md5 apr1", "alice:" + xcryptHash + "\nbob:$apr1$" + secret + "$i.qnDV/IFGp/8ThjVlBP01\n", []string{"line 2", `user "bob"`, "$apr1$", "only bcrypt"}},
		{"sha", "\n\nbob:{SHA}" + secret + "=\n", []string{"line 3", `user "bob"`, "{SHA}"}},
		{"md5 crypt", "bob:$1$" + secret + "$xsEsirHGueqJOxESGXWEx0\n", []string{"line 1", "MD5-crypt"}},
		{"sha512 crypt", "bob:$6$" + secret + "\n", []string{"SHA-512-crypt"}},
		{"sha256 crypt", "bob:$5$" + secret + "\n", []string{"SHA-256-crypt"}},
		{"des crypt", "bob:HASHSECRET123\n", []string{"DES crypt"}},
		{"plain", "bob:" + secret + "\n", []string{"plain-text"}},
		{"empty hash", "bob:\n", []string{"empty hash"}},
		{"bcrypt 2x", "bob:$2x$05$" + secret + "\n", []string{"unsupported bcrypt variant"}},
		{"bcrypt too short", "bob:$2y$05$" + secret + "\n", []string{"malformed bcrypt", "characters"}},
		{"bcrypt too long", "bob:" + xcryptHash + secret + "\n", []string{"malformed bcrypt"}},
		{"bcrypt no cost", "bob:$2y$x5$" + secret + xcryptHash[17:] + "\n", []string{"cost"}},
		{"bcrypt signed cost", "bob:$2y$+5$" + secret + xcryptHash[17:] + "\n", []string{"cost"}},
		{"bcrypt cost too low", "bob:$2y$03$" + secret + xcryptHash[17:] + "\n", []string{"cost 3"}},
		{"bcrypt cost too high", "bob:$2y$32$" + secret + xcryptHash[17:] + "\n", []string{"cost 32"}},
		{"bcrypt bad character", "bob:$2y$05$" + secret + "!" + xcryptHash[18:] + "\n", []string{"bad character at offset 17"}},
		{"no colon", "alice:" + xcryptHash + "\nbob" + secret + "\n", []string{"line 2", "no ':'"}},
		{"empty user", ":" + xcryptHash + "\n", []string{"line 1", "empty user name"}},
		{"duplicate user", "bob:" + xcryptHash + "\n#\nbob:" + xcryptHash + "\n", []string{"line 3", `user "bob"`, "line 1"}},
		{"line too long", "bob:" + strings.Repeat("x", 2<<20) + "\n", []string{"line 1", "too long"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("/etc/berth/htpasswd", []byte(tt.data))
			if err == nil {
				t.Fatal("parse succeeded, want an error")
			}
			msg := err.Error()
			for _, w := range append(tt.want, "/etc/berth/htpasswd") {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, xcryptHash[7:]) {
				t.Errorf("error %q quotes a hash", msg)
			}
		})
	}
}
