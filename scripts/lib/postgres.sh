# shellcheck shell=bash
# A private PostgreSQL server for the metadata tests: its own cluster in a
# temp directory, listening only on 127.0.0.1 at a free port, with its unix
# socket in that directory, so a system cluster (if any) is never touched.
# start_postgres installs Debian's postgresql when no initdb/pg_ctl can be
# found (through ensure_packages, scripts/lib/deps.sh), starts the server and
# exports BERTH_TEST_PG_DSN (a superuser with a random password, database
# "postgres"); stop_postgres (run from an EXIT trap, safe to call twice)
# stops it and removes everything it made. Needs common.sh and deps.sh.

PG_DIR=
PG_BINDIR=
PG_RUNAS=()

# pg_find_bindir: set PG_BINDIR to the directory holding initdb and pg_ctl
# (PATH first, then the newest /usr/lib/postgresql/<ver>/bin).
pg_find_bindir() {
	local p d
	p=$(command -v pg_ctl 2>/dev/null || true)
	if [ -n "$p" ]; then
		d=$(dirname "$(readlink -f "$p")")
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			PG_BINDIR=$d
			return 0
		fi
	fi
	for d in $(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			PG_BINDIR=$d
			return 0
		fi
	done
	return 1
}

# pg_free_port: print a TCP port on 127.0.0.1 that nothing listens on now.
pg_free_port() {
	local port _
	for _ in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# pg_run CMD...: run a PostgreSQL program as the cluster's owner.
pg_run() {
	"${PG_RUNAS[@]}" "$@"
}

start_postgres() {
	if ! pg_find_bindir; then
		ensure_packages pg_ctl=postgresql
		pg_find_bindir || die "postgresql installed but no initdb/pg_ctl under /usr/lib/postgresql"
	fi
	# Short path: unix socket paths are limited to 107 bytes.
	PG_DIR=$(mktemp -d /tmp/berth-pg.XXXXXX)
	# initdb and postgres refuse to run as root.
	PG_RUNAS=()
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "running as root but there is no postgres user to run the server as"
		chown postgres: "$PG_DIR"
		PG_RUNAS=(runuser -u postgres --)
	fi
	chmod 700 "$PG_DIR"

	local user=berth password
	password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
	printf '%s\n' "$password" >"$PG_DIR/pwfile"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$PG_DIR/pwfile"
	if ! pg_run "$PG_BINDIR/initdb" -D "$PG_DIR/data" -U "$user" --pwfile="$PG_DIR/pwfile" \
		--auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
		>"$PG_DIR/initdb.log" 2>&1; then
		tail -n 20 "$PG_DIR/initdb.log" >&2
		die "initdb failed"
	fi
	rm -f "$PG_DIR/pwfile"

	local port='' try opts
	for try in 1 2 3 4 5; do
		port=$(pg_free_port) || die "no free port for postgres"
		opts="-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off -c full_page_writes=off -c max_connections=300"
		if pg_run "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 -o "$opts" start >/dev/null 2>&1; then
			break
		fi
		# Most likely the port was taken in between: try another one.
		tail -n 5 "$PG_DIR/postgres.log" >&2 2>/dev/null || true
		port=''
		[ "$try" -lt 5 ] && info "postgres did not start (try $try); retrying on another port"
	done
	[ -n "$port" ] || die "postgres did not start (log: $PG_DIR/postgres.log)"
	if [ -x "$PG_BINDIR/pg_isready" ]; then
		local _
		for _ in $(seq 1 100); do
			"$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port" && break
			sleep 0.1
		done
	fi
	export BERTH_TEST_PG_DSN="postgres://$user:$password@127.0.0.1:$port/postgres?sslmode=disable"
	info "postgres $("$PG_BINDIR/postgres" --version | awk '{print $3}') up on 127.0.0.1:$port (data $PG_DIR/data)"
}

stop_postgres() {
	[ -n "$PG_DIR" ] || return 0
	if [ -f "$PG_DIR/data/postmaster.pid" ]; then
		if ! pg_run "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1; then
			local pid
			pid=$(head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null || true)
			if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
				echo "postgres did not stop; killing pid $pid" >&2
				kill -KILL "$pid" 2>/dev/null || true
			fi
		fi
	fi
	rm -rf "$PG_DIR"
	PG_DIR=
	unset BERTH_TEST_PG_DSN
}
