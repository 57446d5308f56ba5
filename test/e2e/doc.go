// Package e2e holds berth's end-to-end tests: they start the real berth
// binary on 127.0.0.1 and drive it with the Docker engine and with
// go-containerregistry, kill it with SIGKILL in the middle of pushes, and
// fill its disk.
//
// berth runs with authentication on, as it does by default: every server
// starts with BERTH_ADMIN_PASSWORD set to the tests' admin password, and
// every client (the tests' own HTTP and go-containerregistry calls, and each
// client tool in its private configuration) logs in as that admin. The
// login tests check logging in and out and anonymous pulls of the public
// project library. The reference registry runs open and is sent no
// credentials.
//
// The tests are behind the build tag "e2e", so a plain `go test ./...` skips
// them. scripts/test.sh starts a private dockerd, builds bin/berth and runs
//
//	go test -tags e2e ./test/e2e/...
//
// Environment:
//
//	BERTH_BIN             berth binary to test (built into a temp dir if unset)
//	E2E_TARGET            "berth" (default) or "distribution": run the same
//	                      tests against the reference registry (Debian
//	                      docker-registry), to check the tests themselves
//	E2E_DISTRIBUTION_BIN  reference registry binary (default /usr/bin/docker-registry)
//	E2E_DOCKER            docker CLI (default "docker" from PATH); DOCKER_HOST
//	                      names the engine
//	E2E_CRASH_ITERATIONS  kill -9 rounds of the crash test (default 15; or
//	                      go test -args -crash.iterations=N)
//	E2E_CRASH_MIN_KILL_MS, E2E_CRASH_MAX_KILL_MS
//	                      window for the kill after pushes start (50, 800)
//	E2E_SEED              seed for the random choices (default: time based,
//	                      always logged)
//	E2E_REQUIRE_CLIENTS   1: a missing client tool (skopeo, crane, …) fails
//	                      its test instead of skipping it (scripts/test.sh sets it)
//	BERTH_TOOLS           where scripts/lib/clients.sh put the pinned Go client
//	                      tools (default $HOME/.cache/berth-tools; its bin/ is searched)
//	E2E_REQUIRE_CLUSTER   1: the two-node tests fail instead of skipping when
//	                      BERTH_TEST_PG_DSN / BERTH_TEST_S3_* (the PostgreSQL and
//	                      S3 servers scripts/test.sh starts) are missing
//	E2E_UPDATE_COMPAT     1: rewrite README.md's compatibility table from the
//	                      scenarios that ran, instead of failing when it differs
package e2e
