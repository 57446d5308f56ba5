// Package tlscert serves a TLS certificate from files and picks up a
// rotated certificate without a restart: on a handshake, at most once a
// second, it looks at the files and loads them again when they changed. A
// pair that does not load (a half-written rotation) is logged and the last
// good certificate stays in use.
package tlscert
