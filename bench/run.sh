#!/usr/bin/env bash
# Runs the benchmark against the reference registry (Debian's docker-registry,
# CNCF Distribution 2.8) and against berth, one after the other, then prints
# the side-by-side table and writes it to bench/results.md.
#
#   bench/run.sh            full run (1 GiB blob, 20 s load phases, 5,000 repos/tags)
#   bench/run.sh -quick     smoke run; any other flags go to the bench program
#
# berth runs with authentication on (its default): it is started with
# BERTH_ADMIN_PASSWORD set to a password made for the run, and the bench
# program gets -user admin -password for the berth slots only, so it
# authenticates with Bearer tokens as docker does. docker-registry runs
# without authentication.
#
# The gc scenario collects garbage the way each registry does: berth online
# (POST /api/v1/system/gc; started with BERTH_GC_GRACE=1s and
# BERTH_GC_SCHEDULED=false), docker-registry offline (the bench stops it,
# runs garbage-collect and starts it again with restart.sh).
#
# The replication scenario needs a destination registry: for each slot a
# fresh docker-registry is started on its own port and data dir, and
# stopped after. berth replicates by itself (-repl-mode berth: a push
# policy with the event trigger); docker-registry has no replication, so
# for it the bench copies each image as a client would (-repl-mode client).
#
# Environment:
#   BENCH_CANDIDATE=reference   run docker-registry in the berth slot too
#                               (tests the harness before berth serves)
#   BENCH_KEEP=1                keep the temp dir (logs, data, JSON reports)
#   BENCH_BERTH_BIN=PATH        benchmark this berth binary instead of
#                               building bin/berth
#   BENCH_RESULTS=PATH         write the table there instead of bench/results.md
#                               (e.g. for a run of some scenarios only)
#   BENCH_CLUSTER=1             also run berth on PostgreSQL + S3 (a private
#                               PostgreSQL cluster and versitygw on 127.0.0.1,
#                               started by scripts/lib) and write the cost of
#                               that network hop, berth vs berth on PG + S3,
#                               to bench/results-cluster.md
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

log() { printf '== %s\n' "$*" >&2; }

if ! command -v docker-registry >/dev/null 2>&1; then
	log "installing docker-registry"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y docker-registry >/dev/null 2>&1 || {
		apt-get update >/dev/null
		apt-get install -y docker-registry >/dev/null
	}
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [[ -n "${BENCH_KEEP:-}" ]]; then
		log "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building bench"
go build -o "$tmp/bench" ./bench

# The password of berth's admin account, made on its first start.
admin_password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

candidate=${BENCH_CANDIDATE:-berth}
berth_bin=${BENCH_BERTH_BIN:-$root/bin/berth}
if [[ -n ${BENCH_BERTH_BIN:-} ]]; then
	[[ -x $berth_bin ]] || { log "BENCH_BERTH_BIN=$berth_bin is not an executable"; exit 2; }
	log "using $berth_bin"
elif [[ $candidate == berth || -n ${BENCH_CLUSTER:-} ]]; then
	log "building bin/berth"
	go build -o bin/berth ./cmd/berth
fi

# reference_config DIR PORT: writes DIR/config.yml for docker-registry
# serving DIR/data on 127.0.0.1:PORT.
reference_config() {
	local dir=$1 port=$2
	mkdir -p "$dir/data"
	cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
}

# start_reference DIR PORT: writes a config and starts docker-registry;
# sets server_pid.
start_reference() {
	local dir=$1 port=$2
	reference_config "$dir" "$port"
	docker-registry serve "$dir/config.yml" >"$dir/server.log" 2>&1 &
	server_pid=$!
	pids+=("$server_pid")
	# The gc scenario stops this server, runs garbage-collect and starts it
	# again with this script, which prints the new PID (and leaves it in
	# server.pid for run_one).
	cat >"$dir/restart.sh" <<SH
#!/bin/sh
docker-registry serve $(printf %q "$dir/config.yml") >>$(printf %q "$dir/server.log") 2>&1 </dev/null &
echo \$! >$(printf %q "$dir/server.pid")
echo \$!
SH
}

# gc_flags KIND DIR: how the gc scenario makes this kind of registry
# collect: docker-registry offline (stopped, garbage-collect, restarted),
# berth online through its API, after its grace period (BERTH_GC_GRACE).
gc_flags() {
	local kind=$1 dir=$2
	if [[ $kind == reference ]]; then
		gc=(-gc-cmd "docker-registry garbage-collect $(printf %q "$dir/config.yml")" -gc-restart "sh $(printf %q "$dir/restart.sh")")
	else
		gc=(-gc-api /api/v1/system/gc -gc-grace 2s)
	fi
}

# wants_replication ARGS...: whether the bench flags select the replication
# scenario (the default list has every scenario).
wants_replication() {
	local list="" a prev=""
	for a in "$@"; do
		case $prev in -scenarios | --scenarios) list=$a ;; esac
		case $a in -scenarios=* | --scenarios=*) list=${a#*=} ;; esac
		prev=$a
	done
	[[ -z $list || ,$list, == *,replication,* ]]
}

# start_dest DIR: starts a fresh docker-registry as the replication
# destination; sets dest_addr and dest_pid.
start_dest() {
	local dir=$1 port
	port=$("$tmp/bench" freeport)
	reference_config "$dir" "$port"
	docker-registry serve "$dir/config.yml" >"$dir/server.log" 2>&1 &
	dest_pid=$!
	dest_addr=127.0.0.1:$port
	pids+=("$dest_pid")
}

# alive PID: the process exists and is no zombie (a server the gc scenario
# restarted is not our child, and nobody may reap it here).
alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $st != Z* ]]
}

# stop_server PID: SIGTERM, then wait until it has exited.
stop_server() {
	local pid=$1 i
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do
		alive "$pid" || return 0
		sleep 0.05
	done
	log "server $pid did not exit"
}

# start_berth DIR PORT: starts bin/berth with a fresh data dir; sets server_pid.
start_berth() {
	local dir=$1 port=$2
	mkdir -p "$dir/data"
	BERTH_LOG_LEVEL=warn BERTH_ADMIN_PASSWORD="$admin_password" BERTH_GC_GRACE=1s BERTH_GC_SCHEDULED=false \
		"$berth_bin" serve --addr "127.0.0.1:$port" --data "$dir/data" >"$dir/server.log" 2>&1 &
	server_pid=$!
	pids+=("$server_pid")
}

status=0
# run_one SLOT KIND: starts the server, benchmarks it, stops it.
run_one() {
	local slot=$1 kind=$2 port dir
	shift 2
	local auth=() gc=() repl=() dest_pid="" dest_addr=""
	[[ $kind == reference ]] || auth=(-user admin -password "$admin_password")
	dir="$tmp/$slot"
	mkdir -p "$dir"
	gc_flags "$kind" "$dir"
	if wants_replication "$@"; then
		start_dest "$dir/dest"
		local mode=berth
		[[ $kind != reference ]] || mode=client
		repl=(-repl-dest "$dest_addr" -repl-dest-pid "$dest_pid" -repl-mode "$mode")
		log "$slot: replication destination docker-registry on $dest_addr ($mode)"
	fi
	port=$("$tmp/bench" freeport)
	log "$slot: starting $kind on 127.0.0.1:$port"
	"start_$kind" "$dir" "$port"
	# In the background so that a TERM to this script is handled at once
	# (bash runs traps only between foreground commands).
	"$tmp/bench" -addr "127.0.0.1:$port" -pid "$server_pid" -label "$slot" -json "${auth[@]}" "${gc[@]}" "${repl[@]}" "$@" >"$tmp/$slot.json" &
	local bench_pid=$!
	pids+=("$bench_pid")
	if ! wait "$bench_pid"; then
		status=1
		log "$slot: benchmark FAILED; last server log lines:"
		tail -n 20 "$dir/server.log" | cut -c1-400 >&2 || true
	fi
	# The gc scenario may have restarted the server (offline GC).
	if [[ -s $dir/server.pid ]]; then
		local new_pid
		new_pid=$(<"$dir/server.pid")
		if [[ $new_pid != "$server_pid" ]]; then
			wait "$server_pid" 2>/dev/null || true
			server_pid=$new_pid
			pids+=("$server_pid")
		fi
	fi
	if ! alive "$server_pid"; then
		status=1
		log "$slot: server process died; last log lines:"
		tail -n 20 "$dir/server.log" | cut -c1-400 >&2 || true
	fi
	stop_server "$server_pid"
	if [[ -n $dest_pid ]]; then
		if ! alive "$dest_pid"; then
			status=1
			log "$slot: replication destination died; last log lines:"
			tail -n 20 "$dir/dest/server.log" | cut -c1-400 >&2 || true
		fi
		stop_server "$dest_pid"
	fi
	# Write out what the slot left dirty, so that its writeback does not run
	# during the next slot. Its data stays until the end of the run (the EXIT
	# trap removes it): deleting a tree of ~150,000 files here would slow
	# down the next slot's file creations for a minute or more (ext4 without
	# a journal, as on the benchmark machines, skips recently deleted inodes
	# when it allocates new ones, and scans past each of them).
	sync
}

# start_cluster DIR PORT: berth on the PostgreSQL and S3 servers below.
start_cluster() {
	local dir=$1 port=$2
	BERTH_LOG_LEVEL=warn BERTH_ADMIN_PASSWORD="$admin_password" BERTH_GC_GRACE=1s BERTH_GC_SCHEDULED=false \
		BERTH_METADATA_DRIVER=postgres BERTH_METADATA_POSTGRES_DSN="$BERTH_TEST_PG_DSN" \
		BERTH_STORAGE_DRIVER=s3 BERTH_STORAGE_S3_ENDPOINT="$BERTH_TEST_S3_ENDPOINT" BERTH_STORAGE_S3_INSECURE=true \
		BERTH_STORAGE_S3_BUCKET="$BERTH_TEST_S3_BUCKET" BERTH_STORAGE_S3_REGION="$BERTH_TEST_S3_REGION" \
		BERTH_STORAGE_S3_ACCESS_KEY="$BERTH_TEST_S3_ACCESS_KEY" BERTH_STORAGE_S3_SECRET_KEY="$BERTH_TEST_S3_SECRET_KEY" \
		"$berth_bin" serve --addr "127.0.0.1:$port" --data "$dir/data" >"$dir/server.log" 2>&1 &
	server_pid=$!
	pids+=("$server_pid")
}

# The builds above leave dirty pages behind: write them out before the
# first slot, as run_one does after each slot.
sync
run_one reference reference "$@"
run_one berth "$candidate" "$@"

if [[ -n "${BENCH_CLUSTER:-}" ]]; then
	# shellcheck source=scripts/lib/common.sh
	source scripts/lib/common.sh
	# shellcheck source=scripts/lib/deps.sh
	source scripts/lib/deps.sh
	# shellcheck source=scripts/lib/postgres.sh
	source scripts/lib/postgres.sh
	# shellcheck source=scripts/lib/s3.sh
	source scripts/lib/s3.sh
	trap 'stop_s3; stop_postgres; cleanup' EXIT
	start_postgres >&2
	start_s3 >&2
	run_one cluster cluster "$@"
	"$tmp/bench" compare -ref "$tmp/berth.json" -new "$tmp/cluster.json" -ref-label "berth (filesystem + SQLite)" \
		-new-label "berth (PostgreSQL + S3)" -no-targets -md bench/results-cluster.md >&2
	log "cluster table written to bench/results-cluster.md"
fi

echo
new_label=berth
[[ $candidate == berth ]] || new_label="$candidate (berth slot)"
results=${BENCH_RESULTS:-bench/results.md}
"$tmp/bench" compare -ref "$tmp/reference.json" -new "$tmp/berth.json" -new-label "$new_label" -md "$results"
log "table written to $results"
exit "$status"
