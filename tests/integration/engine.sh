#!/usr/bin/env bash
# engine.sh — the "engine" test fixture: a private dockerd (vfs, no network) with a
# busybox base image, and a docker-registry on 127.0.0.1 holding that image.
#
#   engine.sh start   start everything (stopping leftovers of a previous run first)
#   engine.sh stop    stop everything, unmount, remove the layer store (idempotent)
#
# Directory: $MC_ENGINE_DIR (default /tmp/mc-engine). start writes $D/env with
# DOCKER_HOST, MC_REGISTRY and MC_BASE_IMAGE for the tests to source.
set -euo pipefail

D=${MC_ENGINE_DIR:-/tmp/mc-engine}
SOCK=$D/docker.sock
BASE_REPO=mc-test/busybox
BASE_TAG=latest

log() { printf 'engine.sh: %s\n' "$*" >&2; }
# Whatever fails says where: a fixture that fails without a word cannot be fixed.
set -E
trap 'log "failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR
die() { log "$*"; exit 1; }

# Process $1 is alive and its command line mentions $2 (guards against a recycled pid).
alive_with() {
	local pid=$1 needle=$2
	[[ -n $pid ]] || return 1
	grep -qaF -- "$needle" "/proc/$pid/cmdline" 2>/dev/null
}

# TERM, wait up to $3 seconds, then KILL.
stop_pid() {
	local pid=$1 needle=$2 secs=${3:-20} i
	alive_with "$pid" "$needle" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 10; i++)); do
		alive_with "$pid" "$needle" || return 0
		sleep 0.1
	done
	log "pid $pid did not stop after ${secs}s: killing it"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		alive_with "$pid" "$needle" || return 0
		sleep 0.1
	done
}

# Pids of every process whose command line mentions one of the arguments (containerd, shims).
pids_mentioning() {
	local args=() n f p
	for n in "$@"; do
		args+=(-e "$n")
	done
	while read -r f; do
		p=${f#/proc/}
		p=${p%/cmdline}
		[[ $p == "$$" || $p == "$BASHPID" ]] || echo "$p"
	done < <(grep -laF "${args[@]}" /proc/[0-9]*/cmdline 2>/dev/null || true)
}

exec_root() {
	if [[ -f $D/exec-root ]]; then
		cat "$D/exec-root"
	else
		echo "$D/exec"
	fi
}

do_stop() {
	local er pid m
	[[ -d $D ]] || return 0
	er=$(exec_root)

	[[ -f $D/registry.pid ]] && stop_pid "$(cat "$D/registry.pid")" "$D/registry" 10
	rm -f "$D/registry.pid"

	[[ -f $D/dockerd.pid ]] && stop_pid "$(cat "$D/dockerd.pid")" "$D/docker.sock" 30
	[[ -f $D/dockerd.launch.pid ]] && stop_pid "$(cat "$D/dockerd.launch.pid")" "$D/docker.sock" 5
	# dockerd normally stops its containerd; after a KILL it cannot.
	for pid in $(pids_mentioning "$er/containerd" "$D/data"); do
		stop_pid "$pid" "$er/containerd" 10
		stop_pid "$pid" "$D/data" 10
	done
	rm -f "$D/dockerd.pid" "$D/dockerd.launch.pid"

	# Deepest mount points first.
	while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "cannot unmount $m"
	done < <(awk '{print $2}' /proc/mounts | { grep -F -e "$D/" -e "$er/" || true; } | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-)

	# a dockerd that just exited may still be releasing files: one retry
	rm -rf "$D/data" "$D/registry" "$D/rootfs" "$D/busybox.tar" "$D/env" "$SOCK" 2>/dev/null ||
		{ sleep 1; rm -rf "$D/data" "$D/registry" "$D/rootfs" "$D/busybox.tar" "$D/env" "$SOCK"; }
	if [[ $er != "$D/exec" ]]; then
		rm -rf "$er"
	fi
	rm -rf "$D/exec" "$D/exec-root"
}

free_port() {
	local p
	if command -v python3 >/dev/null 2>&1 &&
		p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null); then
		echo "$p"
		return
	fi
	for ((;;)); do
		p=$((20000 + RANDOM % 40000))
		if [[ -z $(ss -Hltn "sport = :$p") ]]; then
			echo "$p"
			return
		fi
	done
}

# curl to the engine; fails on HTTP >= 400 and prints the body on stdout.
api() {
	curl -sS --fail-with-body --unix-socket "$SOCK" "$@"
}

# A streamed JSON answer holds an "error" line even with HTTP 200.
check_stream() {
	local what=$1 out=$2
	if grep -q '"error"' <<<"$out"; then
		die "$what failed: $(grep '"error"' <<<"$out" | head -3)"
	fi
}

start_dockerd() {
	local er i
	er=$D/exec
	# containerd's socket lives under the exec root and must fit in sun_path (108).
	if ((${#er} + 40 > 100)); then
		er=$(mktemp -d /tmp/mc-exec-XXXXXX)
	fi
	echo "$er" >"$D/exec-root"
	((${#SOCK} <= 107)) || die "socket path '$SOCK' is longer than 107 bytes: set MC_ENGINE_DIR to a shorter directory"
	mkdir -p "$D/data" "$er"

	: >"$D/dockerd.log"
	setsid dockerd --data-root "$D/data" --exec-root "$er" --pidfile "$D/dockerd.pid" \
		--host "unix://$SOCK" --storage-driver=vfs --iptables=false --ip6tables=false \
		--bridge=none </dev/null >>"$D/dockerd.log" 2>&1 &
	echo $! >"$D/dockerd.launch.pid"

	for ((i = 0; i < 600; i++)); do
		if [[ -S $SOCK ]] && curl -sf --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; then
			log "dockerd up after $((i / 10)).$((i % 10))s"
			return 0
		fi
		# kill -0, not the command line: until the forked shell has exec'd
		# dockerd, its command line is still this script's
		if ! kill -0 "$(cat "$D/dockerd.launch.pid")" 2>/dev/null &&
			! { [[ -f $D/dockerd.pid ]] && kill -0 "$(cat "$D/dockerd.pid")" 2>/dev/null; }; then
			log "dockerd exited; log tail:"
			tail -n 40 "$D/dockerd.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	log "dockerd did not answer /_ping within 60s; log tail:"
	tail -n 40 "$D/dockerd.log" >&2
	exit 1
}

import_base() {
	local root=$D/rootfs a out
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/root"
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for a in $(/bin/busybox --list); do
		[[ $a == busybox ]] && continue
		ln -s busybox "$root/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$D/busybox.tar" .
	out=$(api -X POST -H 'Content-Type: application/x-tar' --data-binary @"$D/busybox.tar" \
		"http://d/images/create?fromSrc=-&repo=$BASE_REPO&tag=$BASE_TAG") || die "import of the base image failed: $out"
	check_stream "import of the base image" "$out"
	api "http://d/images/$BASE_REPO:$BASE_TAG/json" >/dev/null || die "base image $BASE_REPO:$BASE_TAG missing after import"
	rm -rf "$root" "$D/busybox.tar"
}

start_registry() {
	local port i out
	port=$(free_port)
	mkdir -p "$D/registry"
	cat >"$D/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $D/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
	: >"$D/registry.log"
	setsid /usr/bin/docker-registry serve "$D/registry.yml" </dev/null >>"$D/registry.log" 2>&1 &
	echo $! >"$D/registry.pid"
	for ((i = 0; i < 300; i++)); do
		if curl -sf --max-time 2 "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; then
			break
		fi
		if ! kill -0 "$(cat "$D/registry.pid")" 2>/dev/null; then
			log "docker-registry exited; log tail:"
			tail -n 40 "$D/registry.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	((i < 300)) || {
		log "docker-registry did not answer on 127.0.0.1:$port within 30s; log tail:"
		tail -n 40 "$D/registry.log" >&2
		exit 1
	}
	REGISTRY=127.0.0.1:$port

	out=$(api -X POST "http://d/images/$BASE_REPO:$BASE_TAG/tag?repo=$REGISTRY/mc/busybox&tag=1.0") ||
		die "tag for the registry failed: $out"
	out=$(api -X POST -H 'X-Registry-Auth: e30=' "http://d/images/$REGISTRY/mc/busybox/push?tag=1.0") ||
		die "push to the registry failed: $out"
	check_stream "push to $REGISTRY" "$out"
	curl -sf "http://127.0.0.1:$port/v2/mc/busybox/tags/list" | grep -q '"1.0"' ||
		die "push to $REGISTRY did not reach the registry"
	# So that a later pull really pulls.
	out=$(api -X DELETE "http://d/images/$REGISTRY/mc/busybox:1.0") || die "untag failed: $out"
}

do_start() {
	mkdir -p "$D"
	do_stop
	# A half-started fixture must not leave processes behind; the logs stay.
	trap 'rc=$?; if ((rc)); then log "start failed: stopping what was started"; do_stop; fi' EXIT
	start_dockerd
	import_base
	start_registry
	{
		echo "DOCKER_HOST=unix://$SOCK"
		echo "MC_REGISTRY=$REGISTRY"
		echo "MC_BASE_IMAGE=$BASE_REPO:$BASE_TAG"
	} >"$D/env.tmp"
	mv "$D/env.tmp" "$D/env"
	log "ready: $(tr '\n' ' ' <"$D/env")"
}

case ${1:-} in
start) do_start ;;
stop) do_stop ;;
*)
	echo "usage: engine.sh start|stop" >&2
	exit 2
	;;
esac
