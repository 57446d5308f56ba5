# shellcheck shell=bash
# A private OpenLDAP server for the LDAP tests: Debian's slapd run as its own
# instance (config in a temp dir, never the system's /etc/ldap/slapd.d, never
# the system's service), as the current user, listening only on 127.0.0.1:
# ldap:// (StartTLS offered) on one free port and ldaps:// on another, with a
# server certificate for 127.0.0.1/localhost signed by a CA made per run.
#
# start_slapd installs slapd and ldap-utils when missing (through
# ensure_packages, scripts/lib/deps.sh; slapd's own default database is
# declined with debconf and its service is never started), makes the config
# (cn=config via slapadd -n0, mdb backend, suffix dc=berth,dc=test) and loads
# the test directory:
#
#   ou=people:      alice (password alice-pw)    groups devs
#                   bob   (bob-pw)               no group
#                   carol (carol-pw)             groups devs, ops
#                   "cn=Eve (QA)" uid eve (eve-pw)  group qa (a DN with
#                                                parentheses, for {dn} escaping)
#                   zoë   (zoë-pw)               group devs (a non-ASCII uid)
#                   twin  (twin-pw)              (also in ou=contractors: a
#                                                uid matching two entries)
#   ou=contractors: twin  (twin-pw)
#   ou=groups:      devs, ops, qa (groupOfNames, member = user DNs);
#                   builders (posixGroup, memberUid: bob, carol)
#   ou=services:    cn=berth-svc, the read-only search account
#
# It exports BERTH_TEST_LDAP_URL (ldap://127.0.0.1:PORT), BERTH_TEST_LDAPS_URL
# (ldaps://127.0.0.1:PORT), BERTH_TEST_LDAP_CA (the CA's PEM file),
# BERTH_TEST_LDAP_BIND_DN and BERTH_TEST_LDAP_BIND_PASSWORD (the search
# account, a random password) and BERTH_TEST_LDAP_BASE (dc=berth,dc=test).
# stop_slapd (safe to call twice, e.g. from an EXIT trap) stops the server
# and removes the temp dir. Needs common.sh and deps.sh.

_SLAPD_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib/common.sh
declare -F info >/dev/null || source "$_SLAPD_LIB/common.sh"

SLAPD_DIR=
SLAPD_PID=
SLAPD_SUFFIX=dc=berth,dc=test
SLAPD_SCHEMA_DIR=${SLAPD_SCHEMA_DIR:-/etc/ldap/schema}
SLAPD_MODULE_DIR=${SLAPD_MODULE_DIR:-/usr/lib/ldap}

# _slapd_bin NAME: print the path of an OpenLDAP program (PATH, then /usr/sbin).
_slapd_bin() {
	local p
	p=$(command -v "$1" 2>/dev/null || true)
	[ -z "$p" ] && [ -x "/usr/sbin/$1" ] && p=/usr/sbin/$1
	[ -n "$p" ] || return 1
	printf '%s\n' "$p"
}

# _slapd_install: install slapd and ldap-utils unless both are there. The
# package's postinst would otherwise build a default database for the
# machine's domain: decline it (slapd/no_configuration), we never use it.
_slapd_install() {
	if _slapd_bin slapd >/dev/null && _slapd_bin slapadd >/dev/null &&
		_slapd_bin slappasswd >/dev/null && command -v ldapwhoami >/dev/null 2>&1; then
		info "slapd and ldap-utils present"
		return 0
	fi
	if [ "$(id -u)" -eq 0 ] && command -v debconf-set-selections >/dev/null 2>&1; then
		printf 'slapd slapd/no_configuration boolean true\n' | debconf-set-selections
	fi
	# ensure_packages keys on commands in PATH; slapd lives in /usr/sbin.
	local slapd_cmd=slapd
	[ -x /usr/sbin/slapd ] && slapd_cmd=/usr/sbin/slapd
	ensure_packages "$slapd_cmd=slapd" slapadd=slapd slappasswd=slapd ldapwhoami=ldap-utils ldapsearch=ldap-utils
	_slapd_bin slapd >/dev/null || die "slapd installed but not found (PATH or /usr/sbin)"
}

# _slapd_free_port: print a TCP port on 127.0.0.1 that nothing listens on now.
_slapd_free_port() {
	local port _
	for _ in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	return 1
}

# _slapd_random BYTES: BYTES random bytes in hex.
_slapd_random() {
	od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

# _slapd_certs DIR: a CA and a server certificate for 127.0.0.1/localhost.
_slapd_certs() {
	local d=$1
	{
		openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=berth test LDAP CA" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
			openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=127.0.0.1" &&
			printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
				'keyUsage=critical,digitalSignature,keyEncipherment' \
				'extendedKeyUsage=serverAuth' \
				'subjectAltName=IP:127.0.0.1,DNS:localhost' >"$d/server.ext" &&
			openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
				-CAcreateserial -days 2 -extfile "$d/server.ext" -out "$d/server.pem"
	} >"$d/openssl.log" 2>&1 || {
		tail -n 20 "$d/openssl.log" >&2
		die "openssl could not make the test certificates"
	}
	chmod 600 "$d/ca.key" "$d/server.key"
}

# _slapd_hash PASSWORD: the {SSHA} hash slappasswd makes of PASSWORD.
_slapd_hash() {
	"$(_slapd_bin slappasswd)" -n -h '{SSHA}' -s "$1"
}

# _slapd_config_ldif DIR ROOTPW_HASH: the cn=config tree.
_slapd_config_ldif() {
	local d=$1 rootpw=$2 schema
	cat <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $d/slapd.pid
olcArgsFile: $d/slapd.args
olcTLSCACertificateFile: $d/ca.pem
olcTLSCertificateFile: $d/server.pem
olcTLSCertificateKeyFile: $d/server.key

EOF
	# Debian builds the backends as modules; a build with mdb inside has
	# no back_mdb.so and needs no module list.
	if [ -e "$SLAPD_MODULE_DIR/back_mdb.so" ] || [ -e "$SLAPD_MODULE_DIR/back_mdb.la" ]; then
		cat <<EOF
dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: $SLAPD_MODULE_DIR
olcModuleLoad: back_mdb

EOF
	fi
	cat <<EOF
dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

EOF
	for schema in core cosine nis inetorgperson; do
		[ -r "$SLAPD_SCHEMA_DIR/$schema.ldif" ] || die "no $SLAPD_SCHEMA_DIR/$schema.ldif (slapd's schema files)"
		printf 'include: file://%s/%s.ldif\n\n' "$SLAPD_SCHEMA_DIR" "$schema"
	done
	cat <<EOF
dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 500

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: $d/data
olcSuffix: $SLAPD_SUFFIX
olcRootDN: cn=admin,$SLAPD_SUFFIX
olcRootPW: $rootpw
olcDbMaxSize: 67108864
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: member eq
olcAccess: {0}to attrs=userPassword by anonymous auth by * none
olcAccess: {1}to * by * read
EOF
}

# _slapd_nonascii TEXT: whether TEXT has a byte outside printable ASCII.
_slapd_nonascii() {
	printf '%s' "$1" | LC_ALL=C grep -q '[^ -~]'
}

# _slapd_user OU RDN UID PASSWORD N: an inetOrgPerson/posixAccount entry.
# Non-ASCII values are written base64-encoded ("attr:: "), as LDIF requires.
_slapd_user() {
	local ou=$1 rdn=$2 uid=$3 pw=$4 n=$5 dn line_dn line_uid line_cn
	dn="$rdn,ou=$ou,$SLAPD_SUFFIX"
	line_dn="dn: $dn"
	_slapd_nonascii "$dn" && line_dn="dn:: $(printf '%s' "$dn" | base64 -w0)"
	line_uid="uid: $uid"
	_slapd_nonascii "$uid" && line_uid="uid:: $(printf '%s' "$uid" | base64 -w0)"
	line_cn="cn: user $n"
	case "$rdn" in
	cn=*) line_cn="cn: ${rdn#cn=}" ;;
	esac
	cat <<EOF
$line_dn
objectClass: inetOrgPerson
objectClass: posixAccount
$line_uid
$line_cn
sn: user$n
uidNumber: $((10000 + n))
gidNumber: 10000
homeDirectory: /home/user$n
userPassword: $(_slapd_hash "$pw")

EOF
}

# _slapd_data_ldif SVC_PASSWORD: the test directory (see the file's header).
_slapd_data_ldif() {
	local svcpw=$1 p=ou=people,$SLAPD_SUFFIX
	local zoe_dn
	zoe_dn=$(printf 'uid=zo\303\253,%s' "$p" | base64 -w0)
	cat <<EOF
dn: $SLAPD_SUFFIX
objectClass: dcObject
objectClass: organization
dc: berth
o: berth test directory

dn: ou=people,$SLAPD_SUFFIX
objectClass: organizationalUnit
ou: people

dn: ou=contractors,$SLAPD_SUFFIX
objectClass: organizationalUnit
ou: contractors

dn: ou=groups,$SLAPD_SUFFIX
objectClass: organizationalUnit
ou: groups

dn: ou=services,$SLAPD_SUFFIX
objectClass: organizationalUnit
ou: services

dn: cn=berth-svc,ou=services,$SLAPD_SUFFIX
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: berth-svc
userPassword: $(_slapd_hash "$svcpw")

EOF
	_slapd_user people uid=alice alice alice-pw 1
	_slapd_user people uid=bob bob bob-pw 2
	_slapd_user people uid=carol carol carol-pw 3
	_slapd_user people 'cn=Eve (QA)' eve eve-pw 4
	_slapd_user people "uid=$(printf 'zo\303\253')" "$(printf 'zo\303\253')" "$(printf 'zo\303\253-pw')" 5
	_slapd_user people uid=twin twin twin-pw 6
	_slapd_user contractors uid=twin twin twin-pw 7
	cat <<EOF
dn: cn=devs,ou=groups,$SLAPD_SUFFIX
objectClass: groupOfNames
cn: devs
member: uid=alice,$p
member: uid=carol,$p
member:: $zoe_dn

dn: cn=ops,ou=groups,$SLAPD_SUFFIX
objectClass: groupOfNames
cn: ops
member: uid=carol,$p

dn: cn=qa,ou=groups,$SLAPD_SUFFIX
objectClass: groupOfNames
cn: qa
member: cn=Eve (QA),$p

dn: cn=builders,ou=groups,$SLAPD_SUFFIX
objectClass: posixGroup
cn: builders
gidNumber: 20000
memberUid: bob
memberUid: carol

EOF
}

# _slapd_ready URL: whether the search account can bind at URL.
_slapd_ready() {
	# The LDAPTLS_* variables override /etc/ldap/ldap.conf (LDAPNOINIT
	# would ignore them too).
	LDAPTLS_CACERT="$SLAPD_DIR/ca.pem" LDAPTLS_REQCERT=demand \
		ldapwhoami -x -o nettimeout=2 -H "$1" -D "cn=berth-svc,ou=services,$SLAPD_SUFFIX" \
		-y "$SLAPD_DIR/svc.pw" "${@:2}" >/dev/null 2>&1
}

start_slapd() {
	[ -z "$SLAPD_PID" ] || die "start_slapd: a slapd (pid $SLAPD_PID) is already running; stop_slapd first"
	_slapd_install
	local slapd slapadd
	slapd=$(_slapd_bin slapd)
	slapadd=$(_slapd_bin slapadd)
	SLAPD_DIR=$(mktemp -d /tmp/berth-slapd.XXXXXX)
	chmod 700 "$SLAPD_DIR"
	mkdir -p "$SLAPD_DIR/slapd.d" "$SLAPD_DIR/data"
	_slapd_certs "$SLAPD_DIR"

	local svcpw rootpw
	svcpw=$(_slapd_random 16)
	rootpw=$(_slapd_random 16)
	# ldapwhoami -y reads the password from a file, without a newline.
	(umask 077 && printf '%s' "$svcpw" >"$SLAPD_DIR/svc.pw")
	_slapd_config_ldif "$SLAPD_DIR" "$(_slapd_hash "$rootpw")" >"$SLAPD_DIR/config.ldif"
	_slapd_data_ldif "$svcpw" >"$SLAPD_DIR/data.ldif"
	if ! "$slapadd" -n0 -F "$SLAPD_DIR/slapd.d" -l "$SLAPD_DIR/config.ldif" >"$SLAPD_DIR/slapadd.log" 2>&1 ||
		! "$slapadd" -n1 -F "$SLAPD_DIR/slapd.d" -l "$SLAPD_DIR/data.ldif" >>"$SLAPD_DIR/slapadd.log" 2>&1; then
		tail -n 20 "$SLAPD_DIR/slapadd.log" >&2
		die "slapadd failed (config and data in $SLAPD_DIR)"
	fi

	local attempt port tlsport up
	for attempt in 1 2 3; do
		port=$(_slapd_free_port) || die "no free port for slapd"
		tlsport=$(_slapd_free_port) || die "no free port for slapd"
		[ "$port" != "$tlsport" ] || continue
		# -d keeps slapd in the foreground (we own its pid); level 0 logs
		# only start-up problems. It runs as the current user (no -u).
		"$slapd" -F "$SLAPD_DIR/slapd.d" -h "ldap://127.0.0.1:$port/ ldaps://127.0.0.1:$tlsport/" \
			-d "${SLAPD_DEBUG:-0}" >"$SLAPD_DIR/slapd.log" 2>&1 &
		SLAPD_PID=$!
		local _
		up=0
		for _ in $(seq 1 100); do
			kill -0 "$SLAPD_PID" 2>/dev/null || break
			if _slapd_ready "ldap://127.0.0.1:$port/" -ZZ && _slapd_ready "ldaps://127.0.0.1:$tlsport/"; then
				up=1
				break
			fi
			sleep 0.1
		done
		[ "$up" -eq 1 ] && break
		_slapd_kill
		if [ "$attempt" -eq 3 ]; then
			tail -n 40 "$SLAPD_DIR/slapd.log" >&2
			die "slapd did not start (dir $SLAPD_DIR)"
		fi
		info "slapd did not come up on ports $port/$tlsport (try $attempt); retrying"
	done
	export BERTH_TEST_LDAP_URL="ldap://127.0.0.1:$port"
	export BERTH_TEST_LDAPS_URL="ldaps://127.0.0.1:$tlsport"
	export BERTH_TEST_LDAP_CA="$SLAPD_DIR/ca.pem"
	export BERTH_TEST_LDAP_BIND_DN="cn=berth-svc,ou=services,$SLAPD_SUFFIX"
	export BERTH_TEST_LDAP_BIND_PASSWORD="$svcpw"
	export BERTH_TEST_LDAP_BASE="$SLAPD_SUFFIX"
	info "slapd $("$slapd" -VV 2>&1 | sed -n 's/.*slapd \([0-9][0-9.]*\).*/\1/p' | head -n 1) up (pid $SLAPD_PID, $BERTH_TEST_LDAP_URL, $BERTH_TEST_LDAPS_URL, dir $SLAPD_DIR)"
}

# _slapd_kill: stop the server process if it runs.
_slapd_kill() {
	if [ -n "$SLAPD_PID" ] && kill -0 "$SLAPD_PID" 2>/dev/null; then
		kill -TERM "$SLAPD_PID" 2>/dev/null || true
		local _
		for _ in $(seq 1 100); do
			kill -0 "$SLAPD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$SLAPD_PID" 2>/dev/null || true
	fi
	if [ -n "$SLAPD_PID" ]; then
		wait "$SLAPD_PID" 2>/dev/null || true
	fi
	SLAPD_PID=
}

stop_slapd() {
	_slapd_kill
	if [ -n "$SLAPD_DIR" ]; then
		rm -rf "$SLAPD_DIR"
		SLAPD_DIR=
	fi
	unset BERTH_TEST_LDAP_URL BERTH_TEST_LDAPS_URL BERTH_TEST_LDAP_CA \
		BERTH_TEST_LDAP_BIND_DN BERTH_TEST_LDAP_BIND_PASSWORD BERTH_TEST_LDAP_BASE
}
