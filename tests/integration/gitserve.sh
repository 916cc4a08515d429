#!/usr/bin/env bash
# gitserve.sh — serves the bare repositories under DIR over git:// (git daemon)
# and smart HTTP and HTTPS (git-http-backend behind lighttpd with basic auth;
# HTTPS with a certificate from a throwaway test CA) on free 127.0.0.1 ports,
# for the integration tests.
#
#   gitserve.sh start DIR   start both; writes DIR/.gitserve.env:
#                             GIT_DAEMON_URL=git://127.0.0.1:P1
#                             GIT_HTTP_URL=http://127.0.0.1:P2
#                             GIT_HTTPS_URL=https://127.0.0.1:P3
#                             GITSERVE_CA=<the test CA's PEM certificate>
#                             GIT_HTTP_USER=molcache
#                             GITSERVE_DAEMON_PID=… GITSERVE_HTTP_PID=…
#                           repos are then DIR/NAME.git → $GIT_DAEMON_URL/NAME.git
#   gitserve.sh stop DIR    stop both (by the pids recorded at start)
#
# The HTTP side requires user "molcache" with password $GITSERVE_TOKEN
# (default "s3cret-token-123"). Installs nothing: git, lighttpd,
# lighttpd-mod-openssl and openssl must be there.
set -euo pipefail

die() {
	echo "gitserve.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: gitserve.sh start|stop DIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2
[ -d "$dir" ] || die "'$dir' is not a directory"
dir=$(cd "$dir" && pwd)
state="$dir/.gitserve.d"
envfile="$dir/.gitserve.env"

need() {
	command -v "$1" >/dev/null 2>&1 || die "'$1' not found in PATH; install it (Debian package: $2)"
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Succeeds once something accepts TCP connections on 127.0.0.1:$1.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_up PID PORT: 0 when PORT answers, 1 when PID died or 10 s passed.
wait_up() {
	local pid=$1 port=$2
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 1
		port_open "$port" && return 0
		sleep 0.1
	done
	return 1
}

show_logs() {
	local f
	for f in "$state"/*.log; do
		[ -e "$f" ] || continue
		echo "--- $f" >&2
		cat "$f" >&2 || true
	done
}

stop_pid() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

start_daemon() {
	local attempt port pid daemon
	daemon="$(git --exec-path)/git-daemon"
	[ -x "$daemon" ] || die "'$daemon' not found; is git installed completely?"
	for attempt in 1 2 3 4 5; do
		port=$(free_port)
		# Run git-daemon itself (not the "git daemon" wrapper) so $! is the server.
		"$daemon" --reuseaddr --base-path="$dir" --export-all --listen=127.0.0.1 \
			--port="$port" "$dir" </dev/null >"$state/daemon.log" 2>&1 &
		pid=$!
		if wait_up "$pid" "$port"; then
			daemon_port=$port
			daemon_pid=$pid
			return 0
		fi
		stop_pid "$pid"
		echo "gitserve.sh: git daemon did not come up on port $port (attempt $attempt)" >&2
	done
	show_logs
	die "git daemon failed to start"
}

# A test CA and a server certificate for 127.0.0.1 signed by it.
make_certs() {
	local o=(-days 2 -sha256)
	openssl req -x509 -newkey rsa:2048 -nodes "${o[@]}" -subj "/CN=molcache test CA" \
		-keyout "$state/ca.key" -out "$state/ca.pem" >"$state/openssl.log" 2>&1 &&
		openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
			-keyout "$state/server.key" -out "$state/server.csr" >>"$state/openssl.log" 2>&1 &&
		printf 'subjectAltName=IP:127.0.0.1,DNS:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$state/server.ext" &&
		openssl x509 -req -in "$state/server.csr" -CA "$state/ca.pem" -CAkey "$state/ca.key" \
			-CAcreateserial "${o[@]}" -extfile "$state/server.ext" -out "$state/server.pem" \
			>>"$state/openssl.log" 2>&1 || {
		show_logs
		die "openssl could not make the test certificates"
	}
}

start_http() {
	local attempt port tls_port pid backend
	backend="$(git --exec-path)/git-http-backend"
	[ -x "$backend" ] || die "'$backend' not found; is git installed completely?"
	printf 'molcache:%s\n' "${GITSERVE_TOKEN:-s3cret-token-123}" >"$state/users"
	chmod 600 "$state/users"
	mkdir -p "$state/docroot"
	for attempt in 1 2 3 4 5; do
		port=$(free_port)
		tls_port=$(free_port)
		while [ "$tls_port" = "$port" ]; do tls_port=$(free_port); done
		cat >"$state/lighttpd.conf" <<-EOF
			server.modules = ( "mod_alias", "mod_setenv", "mod_auth", "mod_authn_file", "mod_cgi", "mod_openssl" )
			server.bind = "127.0.0.1"
			server.port = $port
			server.document-root = "$state/docroot"
			server.errorlog = "$state/lighttpd-error.log"
			server.max-request-size = 1048576
			# Tests try wrong credentials on purpose: no anti-brute-force pause.
			server.feature-flags = ( "auth.delay-invalid-creds" => "disable" )
			alias.url = ( "/" => "$backend/" )
			cgi.assign = ( "" => "" )
			setenv.set-environment = (
				"GIT_PROJECT_ROOT" => "$dir",
				"GIT_HTTP_EXPORT_ALL" => "1",
				"HOME" => "$state"
			)
			auth.backend = "plain"
			auth.backend.plain.userfile = "$state/users"
			auth.require = ( "/" => (
				"method" => "basic",
				"realm" => "gitserve",
				"require" => "valid-user"
			) )
			\$SERVER["socket"] == "127.0.0.1:$tls_port" {
				ssl.engine = "enable"
				ssl.pemfile = "$state/server.pem"
				ssl.privkey = "$state/server.key"
			}
		EOF
		lighttpd -tt -f "$state/lighttpd.conf" >"$state/lighttpd-check.log" 2>&1 || {
			show_logs
			die "lighttpd rejected its configuration"
		}
		lighttpd -D -f "$state/lighttpd.conf" </dev/null >"$state/lighttpd.log" 2>&1 &
		pid=$!
		if wait_up "$pid" "$port" && wait_up "$pid" "$tls_port"; then
			http_port=$port
			https_port=$tls_port
			http_pid=$pid
			return 0
		fi
		stop_pid "$pid"
		echo "gitserve.sh: lighttpd did not come up on port $port (attempt $attempt)" >&2
	done
	show_logs
	die "lighttpd failed to start"
}

do_start() {
	need git git
	need lighttpd lighttpd
	need openssl openssl
	[ -e /usr/lib/lighttpd/mod_openssl.so ] || die "lighttpd's mod_openssl not found; install it (Debian package: lighttpd-mod-openssl)"
	need python3 python3
	[ ! -e "$envfile" ] || die "'$envfile' exists: already running? run 'gitserve.sh stop $dir' first"
	rm -rf "$state"
	mkdir -p "$state"
	daemon_pid=
	http_pid=
	# die() exits: whatever was started by then must not outlive us.
	trap 'stop_pid "$daemon_pid"; stop_pid "$http_pid"' EXIT
	start_daemon
	make_certs
	start_http
	trap - EXIT
	cat >"$envfile.tmp" <<-EOF
		GIT_DAEMON_URL=git://127.0.0.1:$daemon_port
		GIT_HTTP_URL=http://127.0.0.1:$http_port
		GIT_HTTPS_URL=https://127.0.0.1:$https_port
		GITSERVE_CA=$state/ca.pem
		GIT_HTTP_USER=molcache
		GITSERVE_DAEMON_PID=$daemon_pid
		GITSERVE_HTTP_PID=$http_pid
	EOF
	mv "$envfile.tmp" "$envfile"
}

do_stop() {
	local daemon http
	[ -e "$envfile" ] || return 0
	daemon=$(sed -n 's/^GITSERVE_DAEMON_PID=//p' "$envfile")
	http=$(sed -n 's/^GITSERVE_HTTP_PID=//p' "$envfile")
	stop_pid "$daemon"
	stop_pid "$http"
	rm -f "$envfile"
}

case "$cmd" in
start) do_start ;;
stop) do_stop ;;
*) usage ;;
esac
