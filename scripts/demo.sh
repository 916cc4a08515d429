#!/usr/bin/env bash
# demo.sh — molcache's main job on a built-in example, on a fresh Debian machine:
# installs what it needs, builds molcache, starts a private dockerd if none
# answers, serves the sample template (examples/template-hello) with git daemon
# on 127.0.0.1, and runs `molcache ensure` twice: a build, then a cache hit.
# Stops every server it started. KEEP=1 keeps the dockerd it started.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
MC=$top/build/molcache
W=$(mktemp -d /tmp/molcache-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
ping() { curl -sf --unix-socket "$1" http://d/_ping >/dev/null 2>&1; }

# 1. an engine: the one at DOCKER_HOST / /var/run/docker.sock, else a private one
sock=${DOCKER_HOST:-unix:///var/run/docker.sock}; sock=${sock#unix://}
if ! ping "$sock"; then
	sock=$W/docker.sock
	echo "demo: no docker engine answers; starting a private dockerd on $sock"
	dockerd --data-root "$W/docker" --exec-root "$W/exec" --pidfile "$W/dockerd.pid" --host "unix://$sock" \
		--storage-driver=vfs --iptables=false --ip6tables=false --bridge=none >"$W/dockerd.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 120); do ping "$sock" && break; sleep 0.5; done
	ping "$sock" || { tail -20 "$W/dockerd.log"; echo "demo: dockerd did not start"; exit 1; }
fi
export DOCKER_HOST=unix://$sock

# 2. a base image made locally (no registry is reachable): busybox-static imported through the API
if ! curl -sf --unix-socket "$sock" http://d/images/molcache-demo/busybox:latest/json >/dev/null; then
	r=$W/rootfs; mkdir -p "$r/bin" "$r/tmp"
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
	tar -C "$r" -cf "$W/rootfs.tar" .
	curl -sf --unix-socket "$sock" -X POST -H 'Content-Type: application/x-tar' --data-binary "@$W/rootfs.tar" \
		"http://d/images/create?fromSrc=-&repo=molcache-demo/busybox&tag=latest" >/dev/null
fi

# 3. the sample template repository, served by git daemon on 127.0.0.1
git init -q -b main "$W/work"
cp -a examples/template-hello/. "$W/work/"
git -C "$W/work" add -A
git -C "$W/work" -c user.name=demo -c user.email=demo@localhost commit -qm "sample template"
mkdir -p "$W/git"
git clone -q --bare "$W/work" "$W/git/workspace-template-claude-code"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git daemon --reuseaddr --export-all --base-path="$W/git" --listen=127.0.0.1 --port="$port" "$W/git" 2>"$W/git-daemon.log" &
pids+=($!)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

# 4. molcache ensure, twice
export MOLCACHE_HOME=$W/cache
export MOLCACHE_REPO_PREFIX=git://127.0.0.1:$port/workspace-template-
echo "demo: \$ molcache ensure claude-code    # first run: clone and build"
t1=$("$MC" ensure claude-code --network none)
echo "$t1"
echo "demo: \$ molcache ensure claude-code    # second run: a cache hit"
t2=$("$MC" ensure claude-code --network none)
echo "$t2"
[ "$t1" = "$t2" ] || { echo "demo: FAILED: the two runs printed different tags"; exit 1; }
echo "demo: ok: both runs printed $t1"
