// Package app is the composition root: configuration → drivers → services →
// HTTP server and background jobs.
package app
