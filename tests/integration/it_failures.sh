# it_failures.sh — failure memory: a key whose build failed is not rebuilt on
# every call. Within the backoff window ensure fails at once (exit 5) with the
# saved failing step, its last output lines and the log path; --retry builds at
# once (a new log per attempt, <key>.<n>.log); a new commit builds at once; a
# success forgets the failure; show and explain say "failed N times, next try
# after T"; the window doubles per repeated failure; failure_backoff and
# MOLCACHE_FAILURE_BACKOFF set it (0: off).
. "$(dirname "$0")/lib.sh"
it_setup
export MOLCACHE_RUNTIMES=hermes,autogen,crewai,codex

run() { # run WANT_RC NAME ARGS...: stderr in $IT_DIR/NAME.err, stdout in $IT_DIR/NAME.out
	local want=$1 name=$2; shift 2
	set +e; "$@" >"$IT_DIR/$name.out" 2>"$IT_DIR/$name.err"; local rc=$?; set -e
	[ "$rc" = "$want" ] || { cat "$IT_DIR/$name.err"; it_fail "$name: exit $rc, want $want"; }
}
fail_col() { sqlite3 "$MOLCACHE_HOME/index.db" "SELECT $2 FROM failures WHERE key = '$1'"; }
nlogs() { find "$MOLCACHE_HOME/logs" -name "$1.*.log" | wc -l; }
key_of() { sqlite3 "$MOLCACHE_HOME/index.db" "SELECT key FROM entries WHERE runtime = '$1' ORDER BY created_ms DESC LIMIT 1"; }

# ---- a RUN step that fails ---------------------------------------------------
d=$IT_DIR/src-hermes; mkdir -p "$d"
printf 'FROM %s\nRUN echo boom-before-exit && exit 3\n' "$MC_BASE_IMAGE" > "$d/Dockerfile"
mkrepo hermes "$d"
run 5 first mc ensure hermes --network none
key=$(key_of hermes)
[ -n "$key" ] || it_fail "no row for the failed key"
[ -f "$MOLCACHE_HOME/logs/$key.1.log" ] || { ls "$MOLCACHE_HOME/logs"; it_fail "no logs/<key>.1.log"; }
[ "$(counter build_failures)" = 1 ] || it_fail "build_failures $(counter build_failures), want 1"
[ "$(fail_col "$key" count)" = 1 ] || it_fail "failures.count $(fail_col "$key" count), want 1"
fail_col "$key" step | grep -q "exit 3" || it_fail "saved step: $(fail_col "$key" step)"
fail_col "$key" output | grep -q "boom-before-exit" || it_fail "saved output: $(fail_col "$key" output)"
win=$(( $(fail_col "$key" next_ms) - $(fail_col "$key" last_ms) ))
[ "$win" = 60000 ] || it_fail "first window ${win} ms, want 60000 (1 min)"
grep -q "^hint: not built again before .*--retry' builds now; the build log is at $MOLCACHE_HOME/logs/$key.1.log$" "$IT_DIR/first.err" || { cat "$IT_DIR/first.err"; it_fail "first failure: no hint naming --retry"; }
ok "a failing RUN step: exit 5, logs/<key>.1.log, failure remembered for 1 min"

# ---- within the window: at once, without building ------------------------------
t0=$(date +%s%N)
run 5 second mc ensure hermes --network none
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$(nlogs "$key")" = 1 ] || it_fail "the fast failure wrote a log ($(nlogs "$key") logs)"
[ "$(counter build_failures)" = 1 ] || it_fail "the fast failure built (build_failures $(counter build_failures))"
grep -q "^molcache: .*failed 1 time" "$IT_DIR/second.err" || { cat "$IT_DIR/second.err"; it_fail "no 'failed 1 time'"; }
grep -q "failed step: .*exit 3" "$IT_DIR/second.err" || { cat "$IT_DIR/second.err"; it_fail "no failing step"; }
grep -q "| .*boom-before-exit" "$IT_DIR/second.err" || { cat "$IT_DIR/second.err"; it_fail "no output lines"; }
grep -q "^hint: not built again before [0-9-]* [0-9:]*Z; 'molcache ensure hermes --retry'.*$key.1.log" "$IT_DIR/second.err" ||
	{ cat "$IT_DIR/second.err"; it_fail "hint: time of the next try, --retry, log path"; }
[ ! -s "$IT_DIR/second.out" ] || it_fail "printed a tag"
ok "within the window: exit 5 at once (${ms} ms), step, output and log path, no build, no new log"

# ---- show and explain --------------------------------------------------------
mc show hermes > "$IT_DIR/show.txt"
grep -q "^failures: *failed 1 time, next try after " "$IT_DIR/show.txt" || { cat "$IT_DIR/show.txt"; it_fail "show: failures line"; }
mc show hermes --json | python3 -c 'import json,sys; f=json.load(sys.stdin)["failure"]; assert f["count"] == 1 and f["next_ms"] > f["last_ms"] and "exit 3" in f["step"] and f["log_path"].endswith(".1.log"), f' ||
	it_fail "show --json: failure"
mc explain hermes > "$IT_DIR/explain.txt"
grep -q "failed 1 time, next try after" "$IT_DIR/explain.txt" || { cat "$IT_DIR/explain.txt"; it_fail "explain: failures"; }
mc explain hermes --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["result"] == "miss" and d["failure"]["count"] == 1 and "fails at once" in d["reason"], d' ||
	it_fail "explain --json: failure"
ok "show and explain say 'failed 1 time, next try after T' (and in --json)"

# ---- --retry builds at once, with its own log; the window doubles ---------------
run 5 retry mc ensure hermes --network none --retry
[ -f "$MOLCACHE_HOME/logs/$key.2.log" ] && [ -f "$MOLCACHE_HOME/logs/$key.1.log" ] || { ls "$MOLCACHE_HOME/logs"; it_fail "--retry: want <key>.1.log and <key>.2.log"; }
[ "$(counter build_failures)" = 2 ] || it_fail "--retry did not build"
[ "$(fail_col "$key" count)" = 2 ] || it_fail "failures.count $(fail_col "$key" count), want 2"
win=$(( $(fail_col "$key" next_ms) - $(fail_col "$key" last_ms) ))
[ "$win" = 120000 ] || it_fail "second window ${win} ms, want 120000"
ok "--retry builds at once (logs/<key>.2.log, the first log kept); the window doubles to 2 min"

# ---- a fixed commit is a new key: builds at once -------------------------------
commit hermes Dockerfile "FROM $MC_BASE_IMAGE
RUN echo fixed > /fixed"
run 0 fixed mc ensure hermes --network none
tag=$(cat "$IT_DIR/fixed.out")
image_exists "$tag" || it_fail "fixed commit: no image"
[ "$(counter builds)" = 1 ] || it_fail "fixed commit: builds $(counter builds)"
ok "a fixed commit builds at once: $tag"

# ---- a success forgets the failure (same key: the base image appears) ----------
d=$IT_DIR/src-autogen; mkdir -p "$d"
printf 'FROM mc-test/not-yet:1\nRUN echo ok\n' > "$d/Dockerfile"
mkrepo autogen "$d"
run 5 nobase mc ensure autogen --network none
k2=$(key_of autogen)
[ "$(fail_col "$k2" count)" = 1 ] || it_fail "a base image that cannot be pulled is not remembered"
run 5 nobase2 mc ensure autogen --network none
grep -q "mc-test/not-yet:1" "$IT_DIR/nobase2.err" || { cat "$IT_DIR/nobase2.err"; it_fail "fast failure without a BuildKit step does not say why"; }
engine_req POST "/images/$(urlenc "$MC_BASE_IMAGE")/tag?repo=mc-test/not-yet&tag=1" >/dev/null
run 0 nobase3 mc ensure autogen --network none --retry
[ -z "$(fail_col "$k2" count)" ] || it_fail "a success left the failure row"
run 0 nobase4 mc ensure autogen --network none
grep -q "hit " "$IT_DIR/nobase4.err" || { cat "$IT_DIR/nobase4.err"; it_fail "after the success: not a hit"; }
engine_req DELETE "/images/mc-test/not-yet:1" >/dev/null
ok "a success clears the failure row (a pull failure is remembered too, with its message)"

# ---- the window runs out; MOLCACHE_FAILURE_BACKOFF; 0 is off ---------------------
d=$IT_DIR/src-crewai; mkdir -p "$d"
printf 'FROM %s\nRUN exit 4\n' "$MC_BASE_IMAGE" > "$d/Dockerfile"
mkrepo crewai "$d"
export MOLCACHE_FAILURE_BACKOFF=1s
run 5 c1 mc ensure crewai --network none
k3=$(key_of crewai)
win=$(( $(fail_col "$k3" next_ms) - $(fail_col "$k3" last_ms) ))
[ "$win" = 1000 ] || it_fail "MOLCACHE_FAILURE_BACKOFF=1s: window $win ms"
sleep 1.2
run 5 c2 mc ensure crewai --network none
[ "$(nlogs "$k3")" = 2 ] || it_fail "after the window: not built again ($(nlogs "$k3") logs)"
run 5 c3 mc ensure crewai --network none
[ "$(nlogs "$k3")" = 2 ] || it_fail "second window: built again"
MOLCACHE_FAILURE_BACKOFF=0 run 5 c4 mc ensure crewai --network none
[ "$(nlogs "$k3")" = 3 ] || it_fail "backoff 0: not built"
MOLCACHE_FAILURE_BACKOFF=1x run 2 c5 mc ensure crewai --network none
grep -q "MOLCACHE_FAILURE_BACKOFF" "$IT_DIR/c5.err" || it_fail "bad MOLCACHE_FAILURE_BACKOFF: message"
unset MOLCACHE_FAILURE_BACKOFF
ok "the window runs out (MOLCACHE_FAILURE_BACKOFF=1s, then 2 s); 0 turns failure memory off; a bad value exits 2"

# ---- only the last 5 attempts' logs stay ----------------------------------------
for i in 1 2 3 4; do MOLCACHE_FAILURE_BACKOFF=0 run 5 "more$i" mc ensure crewai --network none; done
logs=$(cd "$MOLCACHE_HOME/logs" && ls "$k3".*.log | sort -t. -k2 -n | tr '\n' ' ')
[ "$logs" = "$k3.3.log $k3.4.log $k3.5.log $k3.6.log $k3.7.log " ] || it_fail "logs kept: $logs"
ok "one log per attempt, the last 5 kept"
