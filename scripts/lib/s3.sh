# shellcheck shell=bash
# A private S3-compatible server for the tests: versitygw serving S3 over a
# POSIX directory in a temp dir, on 127.0.0.1 only, with root credentials
# generated per run. versitygw is built once with `go install` into
# $BERTH_TOOLS/versitygw-<version>/ (BERTH_TOOLS defaults to
# $HOME/.cache/berth-tools); a rerun reuses it.
#
# start_s3 exports BERTH_TEST_S3_ENDPOINT (host:port), BERTH_TEST_S3_ACCESS_KEY,
# BERTH_TEST_S3_SECRET_KEY, BERTH_TEST_S3_BUCKET and BERTH_TEST_S3_REGION; the
# bucket already exists. stop_s3 (safe to call twice, e.g. from an EXIT trap)
# stops the server and removes the temp dir with everything stored in it.

_S3_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib/common.sh
declare -F info >/dev/null || source "$_S3_LIB/common.sh"

BERTH_TOOLS=${BERTH_TOOLS:-$HOME/.cache/berth-tools}
VERSITYGW_VERSION=${VERSITYGW_VERSION:-v1.8.0}

S3_DIR=
S3_PID=

# install_versitygw: build versitygw unless the versioned cache directory
# has it (a `go install` build cannot report its own version); prints its path.
install_versitygw() {
	local dir="$BERTH_TOOLS/versitygw-$VERSITYGW_VERSION" bin
	bin="$dir/versitygw"
	if [ -x "$bin" ]; then
		printf '%s\n' "$bin"
		return 0
	fi
	mkdir -p "$dir"
	local started
	started=$(date +%s)
	info "building versitygw $VERSITYGW_VERSION (go install, once)" >&2
	GOBIN="$dir" GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2 ||
		die "go install versitygw@$VERSITYGW_VERSION failed"
	info "versitygw built in $(($(date +%s) - started))s" >&2
	printf '%s\n' "$bin"
}

# _s3_free_port: a TCP port nothing listens on at the moment.
_s3_free_port() {
	local port _
	for _ in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		if ! ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	die "no free TCP port found"
}

# _s3_random BYTES: BYTES random bytes in hex (no pipe that can break
# under pipefail).
_s3_random() {
	od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

start_s3() {
	local bin
	bin=$(install_versitygw)
	S3_DIR=$(mktemp -d /tmp/berth-s3.XXXXXX)
	mkdir -p "$S3_DIR/data" "$S3_DIR/sidecar"
	local access secret bucket=berth-test port attempt
	access=$(_s3_random 10)
	secret=$(_s3_random 20)
	# The bucket is a directory below the gateway's root.
	mkdir "$S3_DIR/data/$bucket"
	for attempt in 1 2 3; do
		port=$(_s3_free_port)
		# --sidecar keeps object metadata in files, so the temp dir's
		# filesystem need not support extended attributes.
		ROOT_ACCESS_KEY_ID=$access ROOT_SECRET_ACCESS_KEY=$secret \
			"$bin" --port "127.0.0.1:$port" --region us-east-1 --quiet \
			posix --sidecar "$S3_DIR/sidecar" "$S3_DIR/data" >"$S3_DIR/versitygw.log" 2>&1 &
		S3_PID=$!
		local _ up=0
		for _ in $(seq 1 100); do
			if ! kill -0 "$S3_PID" 2>/dev/null; then
				break
			fi
			# Any HTTP answer (an unsigned request gets 403) means it serves.
			if curl -s -o /dev/null -m 2 "http://127.0.0.1:$port/"; then
				up=1
				break
			fi
			sleep 0.1
		done
		if [ "$up" -eq 1 ]; then
			break
		fi
		_s3_kill
		if [ "$attempt" -eq 3 ]; then
			tail -n 40 "$S3_DIR/versitygw.log" >&2
			die "versitygw did not start"
		fi
		info "versitygw did not come up on port $port; retrying" >&2
	done
	export BERTH_TEST_S3_ENDPOINT="127.0.0.1:$port"
	export BERTH_TEST_S3_ACCESS_KEY=$access
	export BERTH_TEST_S3_SECRET_KEY=$secret
	export BERTH_TEST_S3_BUCKET=$bucket
	export BERTH_TEST_S3_REGION=us-east-1
	info "versitygw $VERSITYGW_VERSION up (pid $S3_PID, http://$BERTH_TEST_S3_ENDPOINT, bucket $bucket)"
}

# _s3_kill: stop the server process if it runs.
_s3_kill() {
	if [ -n "$S3_PID" ] && kill -0 "$S3_PID" 2>/dev/null; then
		kill -TERM "$S3_PID" 2>/dev/null || true
		local _
		for _ in $(seq 1 100); do
			kill -0 "$S3_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$S3_PID" 2>/dev/null || true
		wait "$S3_PID" 2>/dev/null || true
	fi
	S3_PID=
}

stop_s3() {
	_s3_kill
	if [ -n "$S3_DIR" ]; then
		rm -rf "$S3_DIR"
		S3_DIR=
	fi
	unset BERTH_TEST_S3_ENDPOINT BERTH_TEST_S3_ACCESS_KEY BERTH_TEST_S3_SECRET_KEY BERTH_TEST_S3_BUCKET BERTH_TEST_S3_REGION
}
