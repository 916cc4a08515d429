#!/usr/bin/env bash
# cold_mem.sh — peak memory of a cold ensure (fetch, checkout, context, build)
# on realistic templates: a 20 000-file tree, and one file of SIZE_MB.
#
#   bash bench/cold_mem.sh [BUILD_DIR] [SIZE_MB]     (default build-bench, 200)
#
# Starts the test engine fixture, serves each template over git daemon on
# 127.0.0.1 and prints the maximum RSS of `molcache ensure` (GNU time).
# Needs root (dockerd).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-bench}; MB=${2:-200}
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
. bench/lib.sh
bench_setup "$B"

mk() { # RUNTIME: a bare repo from $W/src-RUNTIME
	git -C "$W/src-$1" init -q -b main
	git -C "$W/src-$1" add -A
	git -C "$W/src-$1" -c user.name=b -c user.email=b@b commit -qm init
	git clone -q --bare "$W/src-$1" "$W/git/workspace-template-$1"
}
mkdir -p "$W/git" "$W/src-codex" "$W/src-hermes"
printf 'FROM %s\nCOPY . /ctx\n' "$MC_BASE_IMAGE" >"$W/src-codex/Dockerfile"
python3 - "$W/src-codex" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(200):
    p = os.path.join(root, "pkg%03d" % d)
    os.makedirs(p)
    for f in range(100):
        with open(os.path.join(p, "f%03d.js" % f), "w") as fh:
            fh.write(("// file %d/%d\n" % (d, f)) * 40)
PY
mk codex
printf 'FROM %s\nCOPY . /ctx\n' "$MC_BASE_IMAGE" >"$W/src-hermes/Dockerfile"
head -c "$((MB << 20))" /dev/urandom >"$W/src-hermes/big.bin"
mk hermes

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git daemon --reuseaddr --export-all --base-path="$W/git" --listen=127.0.0.1 --port="$port" "$W/git" 2>/dev/null & gd=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
export MOLCACHE_HOME=$W/cache MOLCACHE_REPO_PREFIX=git://127.0.0.1:$port/workspace-template-

echo "molcache $("$MC" version | cut -d' ' -f2), $(nproc) cores"
for rt in codex hermes; do
	what=$([ $rt = codex ] && echo "20 000 files (200 dirs x 100, 16 MiB)" || echo "one ${MB} MiB file")
	/usr/bin/time -f "%M %e" -o "$W/time.$rt" "$MC" ensure $rt -q --network none >/dev/null
	read -r kb secs <"$W/time.$rt"
	printf '%-40s cold ensure: max RSS %6.1f MiB, %5.1f s\n' "$what" "$(echo "$kb / 1024" | bc -l)" "$secs"
done
