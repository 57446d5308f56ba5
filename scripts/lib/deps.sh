# shellcheck shell=bash
# Installs what the tests need from Debian's packages, only when missing.

# ensure_packages CMD=PKG...: apt-get install the packages whose command is
# missing; apt-get update runs once, and only if something is missing.
ensure_packages() {
	local missing=() pair
	for pair in "$@"; do
		command -v "${pair%%=*}" >/dev/null 2>&1 || missing+=("${pair#*=}")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		info "all present: ${*%%=*}"
		return 0
	fi
	[ "$(id -u)" -eq 0 ] || die "need root to install: ${missing[*]}"
	info "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Keep the package's service from starting a system dockerd.
	local policy=/usr/sbin/policy-rc.d ours=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && ours=1
	fi
	local rc=0
	{ apt-get update -qq >/dev/null &&
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
	[ "$ours" -eq 1 ] && rm -f "$policy"
	[ "$rc" -eq 0 ] || die "apt-get install ${missing[*]} failed ($rc)"
}

# ensure_promtool: promtool, from Debian's prometheus package, checks and
# unit-tests the alerting rules in deploy/monitoring. ensure_packages keeps
# the package's Prometheus server from starting.
ensure_promtool() {
	ensure_packages promtool=prometheus
}
