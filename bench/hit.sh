#!/usr/bin/env bash
# hit.sh — the cost of a cache hit, against what molcache replaces.
#
#   bash bench/hit.sh [BUILD_DIR] [N]     (default build-bench, 50 runs each)
#   MC_BENCH_CMAKE="-DMC_DEFER_CAS=OFF" bash bench/hit.sh build-eager  (eager CA loading)
#
# Starts the test engine fixture (tests/integration/engine.sh) and a git daemon
# on 127.0.0.1 serving a one-file template, warms the cache with one ensure,
# then times N runs of:
#   floor     molcache version              (process start + library load)
#   hit       molcache ensure RUNTIME -q    (ls-remote + index + inspect + tag)
#   cli       git ls-remote + docker image inspect + docker tag, as 3 processes
# and, to show where a hit's time goes:
#   offline   ensure --offline      (no git at all: index, engine, retag)
#   sha       ensure --ref <sha>    (adds libgit2's initialisation, no network)
#   lsremote  git ls-remote alone   (for scale: the remote lookup as git does it)
# and prints the median and mean of each in ms. Needs root (dockerd).
#
#   MOLCACHE_STATIC=build-static/molcache bash bench/hit.sh   (scripts/static.sh's binary)
# also times the static binary on the same cache root, round robin with the rest:
#   sfloor    static molcache version
#   soffline  static ensure --offline
#   ssha      static ensure --ref <sha>
#   shit      static molcache ensure RUNTIME -q
# and prints its size and its hit against the dynamic build's and the CLI's.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-bench}; N=${2:-50}
. bench/lib.sh
# shellcheck disable=SC2086 # MC_BENCH_CMAKE is a list of options
bench_setup "$B" ${MC_BENCH_CMAKE:-}

git init -q -b main "$W/src"
printf 'FROM %s\nRUN true\n' "$MC_BASE_IMAGE" > "$W/src/Dockerfile"
git -C "$W/src" add -A && git -C "$W/src" -c user.name=b -c user.email=b@b commit -qm init
mkdir -p "$W/git" && git clone -q --bare "$W/src" "$W/git/workspace-template-codex"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git daemon --reuseaddr --export-all --base-path="$W/git" --listen=127.0.0.1 --port="$port" "$W/git" 2>/dev/null & gd=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
export MOLCACHE_HOME=$W/cache MOLCACHE_REPO_PREFIX=git://127.0.0.1:$port/workspace-template-
tag=$("$MC" ensure codex -q --network none)

echo "molcache $("$MC" version | cut -d' ' -f2), $(nproc) cores, engine $(curl -s --unix-socket "${DOCKER_HOST#unix://}" http://d/version | python3 -c 'import json,sys; print(json.load(sys.stdin)["Version"])')"
# Round robin: each round runs every command once, so drift in the machine's
# load spreads over all of them alike. Median and mean wall ms of N rounds.
sha=$(git -C "$W/src" rev-parse HEAD)
static=()
if [ -n "${MOLCACHE_STATIC:-}" ]; then
	MS=$(cd "$(dirname "$MOLCACHE_STATIC")" && pwd)/$(basename "$MOLCACHE_STATIC")
	file "$MS" | grep -q 'statically linked' || { echo "hit.sh: $MS is not a static binary" >&2; exit 1; }
	[ "$("$MS" ensure codex -q)" = "$tag" ] || { echo "hit.sh: the static binary printed another tag" >&2; exit 1; }
	echo "static binary: $(stat -c %s "$MS") bytes ($MS); dynamic: $(stat -c %s "$MC") bytes, $(ldd "$MC" | wc -l) shared objects"
	static=(sfloor "$MS version" soffline "$MS ensure codex -q --offline 2>/dev/null" ssha "$MS ensure codex -q --ref $sha"
		shit "$MS ensure codex -q")
fi
python3 - "$N" \
	floor "$MC version" \
	offline "$MC ensure codex -q --offline 2>/dev/null" \
	sha "$MC ensure codex -q --ref $sha" \
	hit "$MC ensure codex -q" \
	"${static[@]}" \
	lsremote "git ls-remote $MOLCACHE_REPO_PREFIX""codex HEAD" \
	cli "git ls-remote $MOLCACHE_REPO_PREFIX""codex HEAD && docker image inspect $tag && docker tag $tag molcache/codex:latest" <<'PY'
import resource, subprocess, sys, time, statistics
n, args = int(sys.argv[1]), sys.argv[2:]
cmds = list(zip(args[0::2], args[1::2]))
ts = {name: [] for name, _ in cmds}
cpu = {name: [] for name, _ in cmds}
def used():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
for _ in range(n):
    for name, cmd in cmds:
        c, t = used(), time.perf_counter()
        subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)
        ts[name].append((time.perf_counter() - t) * 1000)
        cpu[name].append((used() - c) * 1000)
# wall: what the caller waits; cpu: what the processes themselves burn (the
# engine's and the git server's work is not in it)
for name, _ in cmds:
    print(f"{name:<8} wall median {statistics.median(ts[name]):7.2f} ms  mean {statistics.mean(ts[name]):7.2f} ms"
          f"   cpu median {statistics.median(cpu[name]):6.2f} ms   (n={n})")
hit, cli = statistics.median(ts["hit"]), statistics.median(ts["cli"])
print(f"hit is {cli / hit:.1f}x faster than the CLI pipeline")
if "shit" in ts:
    shit = statistics.median(ts["shit"])
    print(f"static hit is {cli / shit:.1f}x faster than the CLI pipeline and takes {shit / hit:.2f}x the dynamic hit's time")
PY
