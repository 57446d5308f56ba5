# shellcheck shell=bash
# A private Docker engine for the end-to-end tests: its own data root, exec
# root, pid file and socket under one temp directory, so a system dockerd
# (if any) is never touched. start_dockerd exports DOCKER_HOST and
# DOCKER_CONFIG; stop_dockerd (run from an EXIT trap) stops it and removes
# everything it made.

DOCKERD_DIR=
DOCKERD_PID=

# free_port: a TCP port nothing listens on at 127.0.0.1 now.
free_port() {
	local p _
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	die "no free TCP port found on 127.0.0.1"
}

# dockerd_flag_ok FLAG: whether this dockerd knows FLAG.
dockerd_flag_ok() {
	grep -q -- "$1" <<<"$DOCKERD_HELP"
}

start_dockerd() {
	# Short path: unix socket paths are limited to 108 bytes.
	DOCKERD_DIR=$(mktemp -d /tmp/berth-dockerd.XXXXXX)
	local sock="$DOCKERD_DIR/docker.sock" ns
	ns="berth-test-$(basename "$DOCKERD_DIR")"
	DOCKERD_HELP=$(dockerd --help 2>&1 || true)
	local args=(
		--data-root "$DOCKERD_DIR/data"
		--exec-root "$DOCKERD_DIR/exec"
		--pidfile "$DOCKERD_DIR/dockerd.pid"
		-H "unix://$sock"
		--storage-driver vfs
		--iptables=false
		--bridge=none
	)
	local opt
	for opt in --ip6tables=false --ip-masq=false; do
		dockerd_flag_ok "${opt%%=*}" && args+=("$opt")
	done
	# If a system containerd runs, dockerd uses it: keep to our own namespaces.
	dockerd_flag_ok --containerd-namespace && args+=(--containerd-namespace "$ns")
	dockerd_flag_ok --containerd-plugins-namespace && args+=(--containerd-plugins-namespace "$ns-plugins")

	# The engine's registry mirror: the e2e tests run berth's mirror
	# listener there (E2E_MIRROR_ADDR). Plain HTTP is allowed on 127.0.0.1.
	E2E_MIRROR_ADDR="127.0.0.1:$(free_port)"
	export E2E_MIRROR_ADDR
	args+=(--registry-mirror "http://$E2E_MIRROR_ADDR")

	dockerd "${args[@]}" >"$DOCKERD_DIR/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	export DOCKER_HOST="unix://$sock"
	export DOCKER_CONFIG="$DOCKERD_DIR/client-config"
	mkdir -p "$DOCKER_CONFIG"

	local _
	for _ in $(seq 1 120); do
		if docker info >/dev/null 2>&1; then
			info "dockerd $(docker version --format '{{.Server.Version}}' 2>/dev/null) up (pid $DOCKERD_PID, $DOCKER_HOST)"
			return 0
		fi
		if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
			tail -n 40 "$DOCKERD_DIR/dockerd.log" >&2
			die "dockerd exited during start-up"
		fi
		sleep 0.5
	done
	tail -n 40 "$DOCKERD_DIR/dockerd.log" >&2
	die "dockerd did not answer within 60s"
}

# wait_gone PID SECONDS: wait for a process to go away.
wait_gone() {
	local _
	for _ in $(seq 1 $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

stop_dockerd() {
	[ -n "$DOCKERD_DIR" ] || return 0
	local cpid=
	[ -f "$DOCKERD_DIR/exec/containerd/containerd.pid" ] && cpid=$(cat "$DOCKERD_DIR/exec/containerd/containerd.pid" 2>/dev/null || true)
	if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
		kill -TERM "$DOCKERD_PID" 2>/dev/null || true
		if ! wait_gone "$DOCKERD_PID" 30; then
			echo "dockerd ignored SIGTERM; killing it" >&2
			kill -KILL "$DOCKERD_PID" 2>/dev/null || true
		fi
		wait "$DOCKERD_PID" 2>/dev/null || true
	fi
	# The containerd dockerd started for itself (its pid file is in our dir).
	if [ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null; then
		kill -TERM "$cpid" 2>/dev/null || true
		wait_gone "$cpid" 10 || kill -KILL "$cpid" 2>/dev/null || true
	fi
	cleanup_dir "$DOCKERD_DIR"
	DOCKERD_DIR=
}

# cleanup_dir DIR: unmount whatever is still mounted below DIR (deepest
# first), then remove DIR; leaves DIR alone if something stays mounted.
cleanup_dir() {
	local dir=$1 m left=0
	[ -d "$dir" ] || return 0
	while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done < <(awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	awk -v d="$dir/" 'index($5, d) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo && left=1
	if [ "$left" -eq 1 ]; then
		echo "warning: mounts remain under $dir; not removing it" >&2
		return 0
	fi
	rm -rf "$dir"
}
