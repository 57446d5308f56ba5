// Command bench measures a container registry over the Docker Registry HTTP
// API V2 / OCI Distribution API: a large blob push and pull, many small image
// pushes from concurrent clients, manifest GET and blob HEAD under 64
// concurrent connections, catalog and tag-list paging, garbage collection of
// many unreferenced blobs (online through an API, or offline by a command
// run while the server is stopped: gchook.go), replication lag to a second
// registry (berth's own push replication, or a client-side copy for a
// registry without replication: scen_repl.go), and the server's resident
// memory and CPU time read from /proc.
//
// It drives any registry address, so the same run can be made against berth
// and against a reference registry; bench/run.sh does exactly that and
// prints the side-by-side table. "bench compare" turns two -json reports
// into that table (text and Markdown).
//
// Given -user and -password it authenticates as the Docker engine does:
// Bearer tokens per repository scope from the realm of the registry's
// challenge, cached and renewed before they expire (auth.go).
//
// Every request's status code is checked: a scenario that sees an unexpected
// status stops and reports the error instead of measuring it.
package main
