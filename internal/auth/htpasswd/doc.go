// Package htpasswd reads an htpasswd file the way the Docker registry
// (registry:2) does, and checks user names and passwords against it.
//
// A file holds one "user:hash" entry a line. Blank lines and lines starting
// with '#' are skipped, and white space around a line is ignored. Only bcrypt
// hashes are accepted ("$2y$", as `htpasswd -B` writes them, "$2a$" and
// "$2b$"); a line with any other hash (MD5 "$apr1$", "{SHA}", crypt, plain
// text), a line without ':', an empty user name or a user named twice makes
// the whole file invalid. Errors name the file, the line and the user, and
// never include a hash.
//
// [File.Authenticate] keeps the file current: at most once per reload
// interval (one second by default) it stats the file and reads it again when
// its modification time, size or identity (inode) has changed, so both an
// in-place edit and an atomic rename are noticed. A new content that is
// invalid is logged once and ignored, the last valid content staying in
// force; a removed file means that nobody can log in until it is back.
//
// As with every bcrypt implementation, htpasswd's included, only the first
// 72 bytes of a password count.
//
// An unknown user costs as much as a wrong password: the password is checked
// against a dummy bcrypt hash of the cost most users in the file have.
package htpasswd
