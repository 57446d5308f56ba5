// Command berth is the berth container registry: one binary whose
// subcommands run the server (serve), check a configuration (config check)
// and report the build (version).
//
// Build with the version stamped in:
//
//	go build -ldflags "-X main.version=1.2.3 -X main.commit=$(git rev-parse HEAD)" ./cmd/berth
package main
