# shellcheck shell=bash
# Installs the client tools the compatibility tests drive, at the versions
# pinned in scripts/clients.versions.
#
#   Debian packages  skopeo podman buildah umoci, with apt-get, only when a
#                    command is missing; their versions come with the release
#                    and are checked against the pins (a warning on mismatch).
#   Go tools         crane regctl cosign helm with `go install module/cmd/x@v`;
#                    oras and notation from a throw-away module that requires
#                    the exact version (the module proxy refuses their version
#                    lists, which `go install …@v` asks for). Each is built
#                    once into $BERTH_TOOLS/<name>-<version>/<name>, linked
#                    from $BERTH_TOOLS/bin/<name>; a rerun only checks.
#
# install_clients puts $BERTH_TOOLS/bin first on PATH and exports it.
# BERTH_TOOLS defaults to $HOME/.cache/berth-tools.

_CLIENTS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib/common.sh
declare -F info >/dev/null || source "$_CLIENTS_LIB/common.sh"

BERTH_TOOLS=${BERTH_TOOLS:-$HOME/.cache/berth-tools}

# The Go tools in build order: name, how (install|module), module, package.
_CLIENTS_GO=(
	"crane install github.com/google/go-containerregistry github.com/google/go-containerregistry/cmd/crane"
	"regctl install github.com/regclient/regclient github.com/regclient/regclient/cmd/regctl"
	"oras module oras.land/oras oras.land/oras/cmd/oras"
	"cosign install github.com/sigstore/cosign/v2 github.com/sigstore/cosign/v2/cmd/cosign"
	"helm install helm.sh/helm/v3 helm.sh/helm/v3/cmd/helm"
	"notation module github.com/notaryproject/notation github.com/notaryproject/notation/cmd/notation"
)
_CLIENTS_DEBIAN=(skopeo podman buildah umoci)

# client_pinned NAME: the version pinned in scripts/clients.versions.
client_pinned() {
	awk -v n="$1" '$1 == n { print $2; found = 1; exit } END { exit !found }' \
		"$_CLIENTS_LIB/../clients.versions"
}

# client_version_out NAME: run NAME's version command (the one
# test/e2e/tools_test.go runs too).
client_version_out() {
	case "$1" in
	skopeo | podman | buildah | umoci) "$1" --version ;;
	cosign) cosign version --json ;;
	helm) helm version --short ;;
	*) "$1" version ;;
	esac
}

# _client_ldflags NAME VERSION: the link flags the project's own release
# build sets, so that `NAME version` reports VERSION (helm's source only
# knows its minor version, notation's marks itself "unreleased").
_client_ldflags() {
	local f='-s -w'
	case "$1" in
	helm) f+=" -X helm.sh/helm/v3/internal/version.version=$2" ;;
	cosign) f+=" -X sigs.k8s.io/release-utils/version.gitVersion=$2" ;;
	notation) f+=" -X github.com/notaryproject/notation/internal/version.BuildMetadata=" ;;
	oras) f+=" -X oras.land/oras/internal/version.BuildMetadata=" ;;
	esac
	printf '%s' "$f"
}

# _client_reports NAME VERSION: whether NAME's version output names VERSION
# (with or without its leading "v", not as the prefix of a longer number).
_client_reports() {
	local out v=${2#v}
	out=$(client_version_out "$1" 2>&1) || return 1
	v=${v//./\\.}
	grep -qE "(^|[^0-9.])v?${v}([^0-9.]|\$)" <<<"$out"
}

_clients_debian() {
	local missing=() name
	for name in "${_CLIENTS_DEBIAN[@]}"; do
		command -v "$name" >/dev/null 2>&1 || missing+=("$name")
	done
	# skopeo, podman and buildah refuse to work without a signature policy.
	[ -e /etc/containers/policy.json ] || missing+=(golang-github-containers-common)
	if [ ${#missing[@]} -gt 0 ]; then
		[ "$(id -u)" -eq 0 ] || die "need root to install: ${missing[*]}"
		info "apt-get install ${missing[*]}"
		local t=$SECONDS
		{ DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
				"${missing[@]}" >/dev/null; } || die "apt-get install ${missing[*]} failed"
		info "Debian packages installed in $((SECONDS - t))s"
	fi
	for name in "${_CLIENTS_DEBIAN[@]}"; do
		local want
		want=$(client_pinned "$name") || die "$name is not pinned in scripts/clients.versions"
		_client_reports "$name" "$want" ||
			info "WARNING: $name is $($name --version 2>&1 | head -n1), scripts/clients.versions pins $want"
	done
}

# _client_build NAME HOW MODULE PACKAGE VERSION DIR: build into DIR/NAME.
_client_build() {
	local name=$1 how=$2 module=$3 pkg=$4 version=$5 dir=$6 tmp rc=0
	local ldflags
	ldflags=$(_client_ldflags "$name" "$version")
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/berth-tools.XXXXXX")
	case "$how" in
	install)
		GOBIN=$tmp go install -trimpath -ldflags="$ldflags" "$pkg@$version" >"$tmp/log" 2>&1 || rc=$?
		;;
	module)
		(
			cd "$tmp" &&
				go mod init berth-tools/build &&
				go mod edit -require="$module@$version" &&
				GOFLAGS="${GOFLAGS:-} -mod=mod" go build -trimpath -ldflags="$ldflags" -o "$tmp/$name" "$pkg"
		) >"$tmp/log" 2>&1 || rc=$?
		;;
	*) echo "unknown build method $how" >"$tmp/log" && rc=2 ;;
	esac
	[ "$rc" -eq 0 ] || tail -n 30 "$tmp/log" >&2
	# Move into place only when complete: others may be polling for the binary.
	if [ "$rc" -eq 0 ]; then
		mkdir -p "$dir" && mv "$tmp/$name" "$dir/$name.new" && mv "$dir/$name.new" "$dir/$name" || rc=$?
	fi
	rm -rf "$tmp"
	return "$rc"
}

_clients_go() {
	command -v go >/dev/null 2>&1 || die "go is needed to build the client tools"
	mkdir -p "$BERTH_TOOLS/bin"
	local line name how module pkg version dir t
	for line in "${_CLIENTS_GO[@]}"; do
		read -r name how module pkg <<<"$line"
		version=$(client_pinned "$name") || die "$name is not pinned in scripts/clients.versions"
		dir=$BERTH_TOOLS/$name-$version
		if [ ! -x "$dir/$name" ]; then
			t=$SECONDS
			info "building $name $version"
			_client_build "$name" "$how" "$module" "$pkg" "$version" "$dir" ||
				die "building $name $version failed"
			info "built $name $version in $((SECONDS - t))s"
		fi
		# Relink only on change, by rename: the link never goes missing.
		if [ "$(readlink "$BERTH_TOOLS/bin/$name" 2>/dev/null)" != "$dir/$name" ]; then
			ln -sfn "$dir/$name" "$BERTH_TOOLS/bin/.$name.new" &&
				mv -T "$BERTH_TOOLS/bin/.$name.new" "$BERTH_TOOLS/bin/$name"
		fi
		_client_reports "$name" "$version" ||
			die "$BERTH_TOOLS/bin/$name does not report version $version (remove $dir to rebuild it)"
	done
}

# install_clients: install every pinned client tool and print its version.
install_clients() {
	local t0=$SECONDS name lock
	_clients_debian
	mkdir -p "$BERTH_TOOLS/bin"
	# One build at a time, even from two checkouts.
	exec {lock}>"$BERTH_TOOLS/.lock"
	flock "$lock"
	case ":$PATH:" in
	":$BERTH_TOOLS/bin:"*) ;;
	*) PATH="$BERTH_TOOLS/bin:$PATH" ;;
	esac
	export PATH
	_clients_go
	flock -u "$lock"
	exec {lock}>&-
	for name in "${_CLIENTS_DEBIAN[@]}" "${_CLIENTS_GO[@]%% *}"; do
		info "$name:"
		client_version_out "$name" 2>&1 | sed 's/^/      /'
	done
	info "client tools ready in $((SECONDS - t0))s ($BERTH_TOOLS/bin first on PATH)"
}
