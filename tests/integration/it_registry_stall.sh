# it_registry_stall.sh — issue 16 item 6: an engine pull or push that makes no
# real progress for registry_stall is cancelled, however many "Retrying in N
# seconds" lines the engine sends. A front (faultreg.py) on the fixture's real
# registry answers 500 to every layer download, then to every blob upload:
# dockerd retries each 5 times with a countdown (50 s and more before this
# bound); with MOLCACHE_REGISTRY_STALL=4s ensure gives up after ~4 s without
# progress, warns once and serves a local build.
. "$(dirname "$0")/lib.sh"
it_setup
REG=$MC_REGISTRY
echo pass >"$IT_DIR/mode"
python3 "$MC_SRC/tests/integration/faultreg.py" "$REG" "$IT_DIR/port" "$IT_DIR/mode" "$IT_DIR/reqs" &
front=$!
trap 'it_rc=$?; kill $front 2>/dev/null || true; it_teardown' EXIT
for _ in $(seq 1 50); do [ -s "$IT_DIR/port" ] && break; sleep 0.1; done
FRONT=127.0.0.1:$(cat "$IT_DIR/port")
export MOLCACHE_REGISTRY_STALL=4s

src=$(simple_template codex)
echo "$RANDOM$RANDOM" >"$src/unique.txt" # layers no earlier run pushed
mkrepo codex "$src"

# host A builds and pushes to the registry itself, then forgets the image
mc ensure codex --network none --registry "$REG/stall" -q >/dev/null 2>"$IT_DIR/a.err" || { cat "$IT_DIR/a.err"; it_fail "ensure A"; }
[ "$(counter pushes)" = 1 ] || { cat "$IT_DIR/a.err"; it_fail "A did not push"; }
idA=$(image_id molcache/codex:latest)
engine_req DELETE "/images/$idA?force=1" >/dev/null
engine_req POST "/build/prune?all=1" >/dev/null # BuildKit's cache keeps the layers otherwise
ok "host A built and pushed the key"

# host B (another root) pulls it through the front, whose layer downloads fail
echo pull500 >"$IT_DIR/mode"
export MOLCACHE_HOME=$IT_DIR/cacheB
t0=$(date +%s%N)
tag=$(mc ensure codex --network none --registry "$FRONT/stall" -q 2>"$IT_DIR/b.err") ||
	{ cat "$IT_DIR/b.err"; it_fail "ensure B"; }
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q "^molcache: warning: .*pull.*no progress for 4s (registry_stall" "$IT_DIR/b.err" ||
	{ cat "$IT_DIR/b.err"; it_fail "no stall warning for the pull"; }
n=$(grep -c "^pull500 GET .*/blobs/.* docker$" "$IT_DIR/reqs" || true)
[ "$n" -ge 3 ] || { cat "$IT_DIR/reqs"; it_fail "the engine did not retry the layers ($n blob GETs): the test shows nothing"; }
[ $ms -lt 25000 ] || { cat "$IT_DIR/b.err"; it_fail "the failing pull took $ms ms: the engine's retries were counted as progress"; }
image_exists "$tag" || it_fail "B printed $tag, which is not in the engine"
ok "a pull whose layers fail is cancelled after 4 s without progress: ensure took $ms ms, warned, built locally"

# host C pushes through the front, whose blob uploads fail
echo pass >"$IT_DIR/mode"
export MOLCACHE_HOME=$IT_DIR/cacheC
commit codex c2 "commit 2"
t0=$(date +%s%N)
tag=$(mc ensure codex --network none --registry "$FRONT/stall" -q 2>"$IT_DIR/c.err") || { cat "$IT_DIR/c.err"; it_fail "ensure C"; }
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q "^molcache: warning: .*push.*no progress for 4s (registry_stall.*serving the local build" "$IT_DIR/c.err" ||
	{ cat "$IT_DIR/c.err"; it_fail "no stall warning for the push"; }
grep -q "^pass POST .*/blobs/uploads/.* docker$" "$IT_DIR/reqs" || { cat "$IT_DIR/reqs"; it_fail "the engine's push never tried an upload"; }
[ $ms -lt 25000 ] || { cat "$IT_DIR/c.err"; it_fail "the failing push took $ms ms: the engine's retries were counted as progress"; }
[ "$(counter push_failures)" = 1 ] || it_fail "push_failures $(counter push_failures), want 1"
image_exists "$tag" || it_fail "C printed $tag, which is not in the engine"
ok "a push whose uploads fail is cancelled after 4 s without progress: ensure took $ms ms, warned, served the build"

# a bad setting is refused before any work
rc=0
MOLCACHE_REGISTRY_STALL=soon mc ensure codex -q >/dev/null 2>"$IT_DIR/bad.err" || rc=$?
[ $rc = 2 ] && grep -q "MOLCACHE_REGISTRY_STALL 'soon'" "$IT_DIR/bad.err" || { cat "$IT_DIR/bad.err"; it_fail "bad registry_stall: exit $rc"; }
rc=0
MOLCACHE_REGISTRY_STALL=0 mc ensure codex -q >/dev/null 2>"$IT_DIR/zero.err" || rc=$?
[ $rc = 2 ] || { cat "$IT_DIR/zero.err"; it_fail "registry_stall 0 (unbounded): exit $rc, want 2"; }
ok "registry_stall must be a duration of 1s or more (exit 2): no unbounded registry wait"
