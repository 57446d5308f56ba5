#!/usr/bin/env bash
# scripts/test.sh — berth's one test command; CI runs it through .ci/run.
#
#   scripts/test.sh            everything: gofmt, vet, build, unit and HTTP
#                              tests, a short fuzz pass per Fuzz target, and
#                              the end-to-end tests against a private dockerd
#   scripts/test.sh --quick    gofmt, vet, build, unit tests (no docker, no fuzz)
#   scripts/test.sh --e2e      only the end-to-end tests (and what they need)
#
# Environment: FUZZTIME (default 50000x: a count of runs) per fuzz target; E2E_* variables are
# passed to the e2e tests (see test/e2e/doc.go), e.g. E2E_TARGET=distribution
# runs them against Debian's docker-registry to check the tests themselves.
# Installs docker.io with apt-get when dockerd is missing (needs root), and
# the client tools pinned in scripts/clients.versions (scripts/lib/clients.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
# shellcheck source=scripts/lib/deps.sh
source scripts/lib/deps.sh
# shellcheck source=scripts/lib/dockerd.sh
source scripts/lib/dockerd.sh
# shellcheck source=scripts/lib/clients.sh
source scripts/lib/clients.sh
# shellcheck source=scripts/lib/postgres.sh
source scripts/lib/postgres.sh
# shellcheck source=scripts/lib/s3.sh
source scripts/lib/s3.sh
# shellcheck source=scripts/lib/slapd.sh
source scripts/lib/slapd.sh
# shellcheck source=scripts/lib/nginx.sh
source scripts/lib/nginx.sh

MODE=all
for arg in "$@"; do
	case "$arg" in
	--quick) MODE=quick ;;
	--e2e) MODE=e2e ;;
	-h | --help)
		awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
		exit 0
		;;
	*) die "unknown argument: $arg (try --help)" ;;
	esac
done

# A count, not a duration: with a duration Go's fuzz coordinator (go1.26)
# can report a bare "context deadline exceeded" at the deadline when a
# worker is busy (golang/go#75804), a failure with no failing input.
FUZZTIME=${FUZZTIME:-50000x}
E2E_TARGET=${E2E_TARGET:-berth}
WORK_DIR=
STARTED=$(date +%s)

cleanup() {
	local rc=$?
	set +e
	stop_dockerd
	stop_slapd
	stop_s3
	stop_postgres
	[ -n "$WORK_DIR" ] && cleanup_dir "$WORK_DIR"
	if [ ${#SUMMARY[@]} -gt 0 ]; then
		printf '\n==== summary (%ss) ====\n' "$(($(date +%s) - STARTED))"
		printf '  %s\n' "${SUMMARY[@]}"
	fi
	if [ "$rc" -eq 0 ]; then
		printf 'scripts/test.sh: all checks passed\n'
	else
		printf 'scripts/test.sh: FAILED in section "%s" (exit %s)\n' "${SECTION_NAME:-start}" "$rc" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
section "tools"
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	PATH=$PATH:/usr/local/go/bin
fi
command -v go >/dev/null 2>&1 || die "go is not installed"
info "$(go version)"
if [ "$MODE" != quick ]; then
	ensure_packages dockerd=docker.io docker=docker.io mount=mount curl=curl ss=iproute2
	ensure_nginx
	ensure_promtool
	# The reference registry: the target with E2E_TARGET=distribution, and the
	# third registry `berth copy` goes through (test/e2e/copy_test.go).
	ensure_packages docker-registry=docker-registry
fi
section_done

# ---------------------------------------------------------------------------
if [ "$MODE" != e2e ]; then
	section "gofmt"
	unformatted=$(gofmt -l . 2>&1 || true)
	if [ -n "$unformatted" ]; then
		printf '%s\n' "$unformatted"
		die "gofmt: the files above need formatting (gofmt -w)"
	fi
	section_done

	section "go vet"
	go vet ./...
	go vet -tags e2e ./test/e2e/...
	section_done
fi

# ---------------------------------------------------------------------------
if [ "$MODE" = e2e ] && [ "$E2E_TARGET" = distribution ]; then
	info "E2E_TARGET=distribution: not building berth"
else
	section "build"
	mkdir -p bin
	go build -o bin/berth ./cmd/berth
	info "built bin/berth"
	section_done
fi

# ---------------------------------------------------------------------------
if [ "$MODE" != e2e ]; then
	section "unit and HTTP tests"
	go test -timeout 10m ./...
	section_done
fi

# ---------------------------------------------------------------------------
if [ "$MODE" != e2e ]; then
	section "monitoring rules (promtool)"
	if command -v promtool >/dev/null 2>&1; then
		promtool check rules deploy/monitoring/berth-alerts.yml
		(cd deploy/monitoring && promtool test rules berth-alerts_test.yml)
	elif [ "$MODE" = all ]; then
		die "promtool is missing (apt-get install prometheus)"
	else
		info "promtool is missing: rules not checked (--quick installs nothing)"
	fi
	section_done
fi

# ---------------------------------------------------------------------------
if [ "$MODE" = all ]; then
	section "race detector (core packages, conformance)"
	go test -race -timeout 15m ./internal/... ./test/conformance/
	section_done
fi

# ---------------------------------------------------------------------------
if [ "$MODE" = all ]; then
	section "PostgreSQL and S3 drivers (private servers on 127.0.0.1)"
	start_postgres
	start_s3
	BERTH_REQUIRE_PG=1 BERTH_REQUIRE_S3=1 go test -count=1 -timeout 15m \
		./internal/meta/pg/... ./internal/blob/s3/... ./internal/app/
	stop_s3
	stop_postgres
	section_done

	section "LDAP (private slapd on 127.0.0.1)"
	start_slapd
	BERTH_TEST_REQUIRE_LDAP=1 go test -count=1 -timeout 5m ./internal/auth/ldap/
	BERTH_TEST_REQUIRE_LDAP=1 go test -count=1 -timeout 5m -run LDAP ./internal/app/
	stop_slapd
	section_done
fi

# ---------------------------------------------------------------------------
if [ "$MODE" = all ]; then
	section "fuzz (${FUZZTIME} per target)"
	mapfile -t fuzz_dirs < <(grep -rlE --include='*_test.go' --exclude-dir=.git --exclude-dir=testdata \
		'^func Fuzz[A-Za-z0-9_]*\(' . | xargs -r -n1 dirname | sort -u)
	n_fuzz=0
	for dir in "${fuzz_dirs[@]}"; do
		mapfile -t targets < <(go test -list '^Fuzz' "$dir" | grep -E '^Fuzz' || true)
		for target in "${targets[@]}"; do
			info "$dir $target"
			go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$dir"
			n_fuzz=$((n_fuzz + 1))
		done
	done
	info "$n_fuzz fuzz targets run"
	section_done
fi

# ---------------------------------------------------------------------------
if [ "$MODE" != quick ]; then
	section "client tools"
	install_clients
	# Now a missing client fails its tests instead of skipping them.
	export E2E_REQUIRE_CLIENTS=${E2E_REQUIRE_CLIENTS:-1}
	section_done
fi

# ---------------------------------------------------------------------------
if [ "$MODE" != quick ]; then
	section "private dockerd"
	start_dockerd
	section_done

	if [ "$E2E_TARGET" = berth ]; then
		section "PostgreSQL and S3 for the two-node tests"
		start_postgres
		start_s3
		export E2E_REQUIRE_CLUSTER=${E2E_REQUIRE_CLUSTER:-1}
		section_done
	fi

	section "end-to-end tests (target: $E2E_TARGET)"
	WORK_DIR=$(mktemp -d /tmp/berth-e2e.XXXXXX)
	mkdir -p "$WORK_DIR/tmp"
	TMPDIR="$WORK_DIR/tmp" BERTH_BIN="$ROOT/bin/berth" E2E_TARGET="$E2E_TARGET" \
		go test -tags e2e -count=1 -timeout 20m -v ./test/e2e/...
	section_done
fi
