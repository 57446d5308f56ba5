# shellcheck shell=bash
# nginx for the reverse-proxy end-to-end tests (test/e2e/proxy_test.go). The
# tests start their own nginx, with their own configuration, on 127.0.0.1 and
# a free port; the system nginx the Debian package sets up must never run:
# it would listen on 0.0.0.0:80 with the default site.
# Needs scripts/lib/common.sh and scripts/lib/deps.sh.

# nginx_bin: the nginx binary (in /usr/sbin, which a non-root PATH may lack).
nginx_bin() {
	command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }
}

# ensure_nginx: install Debian's nginx when it is missing, without letting
# the package start its service (ensure_packages installs under a
# policy-rc.d that forbids it); then, in case the service started anyway (a
# policy-rc.d of the machine that allows it), stop the nginx the package
# started and disable its default site.
ensure_nginx() {
	if [ -n "$(nginx_bin)" ]; then
		info "nginx present: $("$(nginx_bin)" -v 2>&1)"
		return 0
	fi
	PATH=$PATH:/usr/sbin ensure_packages nginx=nginx
	local bin
	bin=$(nginx_bin) || true
	[ -n "$bin" ] || die "nginx is still missing after apt-get install nginx"
	# The package's service, if it started: its master writes /run/nginx.pid.
	local pid
	pid=$(cat /run/nginx.pid 2>/dev/null || true)
	if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = nginx ]; then
		info "stopping the nginx service the package started (pid $pid)"
		kill -QUIT "$pid" 2>/dev/null || true
		local _
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	# Nothing should ever serve the package's default site on port 80.
	rm -f /etc/nginx/sites-enabled/default
	info "installed $("$bin" -v 2>&1) (service not running, default site disabled)"
}
