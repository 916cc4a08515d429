# fault_signals.sh — SIGTERM or SIGINT to an ensure ends it cleanly: exit 143 or
# 130, the engine build cancelled, the row failed "interrupted" (no backoff: the
# next ensure builds at once), the attempt recorded with its log holding what
# was streamed, a --log-format json stream that ends with phase_end, error and
# result, and no tmp/ checkout left behind (also when the signal lands in the
# checkout). kill -9 stays the leftovers sweep's (fault_ensure_leftovers.sh).
. "$(dirname "$0")/../integration/lib.sh"
it_setup

src=$IT_DIR/src-codex
mkdir -p "$src"
# the step's name says started-the-$s-step, its output started-the-slow-step
printf 'FROM %s\nRUN s=slow; echo started-the-$s-step; sleep 8; echo finished\n' "$MC_BASE_IMAGE" >"$src/Dockerfile"
mkrepo codex "$src"
key_of() { mc explain "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])'; }
key=$(key_of codex)
[ ${#key} = 64 ] || it_fail "no key from explain"

# wait_for FILE PATTERN PID: until FILE matches PATTERN (or PID is gone)
wait_for() {
	for _ in $(seq 1 600); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# ---- SIGTERM mid-build, JSON stream ------------------------------------------------------------
"$MOLCACHE" ensure codex --network none --log-format json >"$IT_DIR/j.tag" 2>"$IT_DIR/j.out" & # events go to stderr
pid=$!
wait_for "$IT_DIR/j.out" started-the-slow-step $pid || { cat "$IT_DIR/j.out"; it_fail "the build never started"; }
kill -TERM $pid
rc=0
wait $pid || rc=$?
[ $rc = 143 ] || { cat "$IT_DIR/j.out"; it_fail "SIGTERM: exit $rc, want 143"; }
python3 - "$IT_DIR/j.out" <<'PY' || it_fail "the JSON stream after SIGTERM: $(tail -3 "$IT_DIR/j.out")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]   # every line is JSON
kinds = [e["event"] for e in ev]
assert kinds[-3:] == ["phase_end", "error", "result"], kinds[-4:]
assert ev[-3]["phase"] == "build", ev[-3]
assert "interrupt" in json.dumps(ev[-2]).lower(), ev[-2]
PY
state=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT state FROM entries WHERE key = '$key'")
[ "$state" = 2 ] || it_fail "row state after SIGTERM is '$state', want 2 (failed)"
mc show "$key" --json >"$IT_DIR/show.json" 2>/dev/null || true
grep -qi interrupted "$IT_DIR/show.json" || it_fail "show does not say the build was interrupted: $(head -c 400 "$IT_DIR/show.json")"
n=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT count(*) FROM builds WHERE key = '$key' AND ok = 0")
[ "$n" = 1 ] || it_fail "attempts recorded after SIGTERM: $n, want 1"
log=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT log_path FROM builds WHERE key = '$key' ORDER BY id DESC LIMIT 1")
[ -s "$log" ] || it_fail "the attempt's log '$log' is empty"
grep -q started-the-slow-step "$log" || it_fail "the log lost what was streamed: $(cat "$log")"
[ -z "$(ls -A "$MOLCACHE_HOME/tmp")" ] || it_fail "tmp/ after SIGTERM: $(ls "$MOLCACHE_HOME/tmp")"
ok "SIGTERM mid-build: exit 143, JSON ends phase_end/error/result, row failed 'interrupted', attempt and log kept, tmp/ empty"

# the engine's build was cancelled: the slow step never finished in the engine's layer store
sleep 9
! engine_get "/images/json" | grep -q "$key" || it_fail "an image of the interrupted key appeared"

# ---- no backoff for an interruption: the next ensure builds at once --------------------------
t0=$(date +%s)
tag=$(mc ensure codex --network none -q 2>"$IT_DIR/err2") || { cat "$IT_DIR/err2"; it_fail "ensure after SIGTERM (backoff?)"; }
image_exists "$tag" || it_fail "$tag missing"
ok "the next ensure built at once ($(($(date +%s) - t0)) s): no failure backoff for an interruption"

# ---- SIGINT mid-build, text output: exit 130 ---------------------------------------------------
commit codex Dockerfile "$(printf 'FROM %s\nRUN echo started-the-slow-step; sleep 8; echo two\n' "$MC_BASE_IMAGE")"
"$MOLCACHE" ensure codex --network none >"$IT_DIR/t.out" 2>"$IT_DIR/t.err" &
pid=$!
# text output to a pipe shows no build steps: wait for the row, then into the 8 s step
k2=$(key_of codex)
for _ in $(seq 1 200); do
	[ "$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT state FROM entries WHERE key = '$k2'" 2>/dev/null)" = 0 ] && break
	sleep 0.05
done
sleep 3
kill -INT $pid
rc=0
wait $pid || rc=$?
[ $rc = 130 ] || { cat "$IT_DIR/t.err"; it_fail "SIGINT: exit $rc, want 130"; }
grep -q "^molcache: .*interrupted" "$IT_DIR/t.err" || { cat "$IT_DIR/t.err"; it_fail "no 'interrupted' error line"; }
[ -z "$(ls -A "$MOLCACHE_HOME/tmp")" ] || it_fail "tmp/ after SIGINT: $(ls "$MOLCACHE_HOME/tmp")"
ok "SIGINT mid-build: exit 130, '$(grep '^molcache: .*interrupted' "$IT_DIR/t.err" | head -1)'"

# ---- a signal during the checkout: tmp/ removed -------------------------------------------------
big=$IT_DIR/src-big
mkdir -p "$big/files"
printf 'FROM %s\nCOPY . /ctx\n' "$MC_BASE_IMAGE" >"$big/Dockerfile"
for d in $(seq 1 40); do
	mkdir -p "$big/files/$d"
	for f in $(seq 1 400); do echo "$d $f" >"$big/files/$d/$f"; done
done
mkrepo hermes "$big"
caught=0
for trial in 1 2 3 4 5; do
	commit hermes trial.txt "trial $trial"
	bkey=$(key_of hermes) # fetches: the ensure below goes straight to the checkout
	"$MOLCACHE" ensure hermes --network none -q >/dev/null 2>"$IT_DIR/c.err" &
	pid=$!
	for _ in $(seq 1 4000); do
		[ -d "$MOLCACHE_HOME/tmp/$bkey.$pid" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.002
	done
	[ -d "$MOLCACHE_HOME/tmp/$bkey.$pid" ] || { wait $pid || true; continue; }
	kill -TERM $pid
	rc=0
	wait $pid || rc=$?
	[ $rc = 143 ] || [ $rc = 0 ] || { cat "$IT_DIR/c.err"; it_fail "SIGTERM in checkout: exit $rc"; }
	[ $rc = 143 ] || continue # finished before the signal landed
	caught=$((caught + 1))
	[ -z "$(ls -A "$MOLCACHE_HOME/tmp")" ] || it_fail "tmp/ after SIGTERM in the checkout: $(ls "$MOLCACHE_HOME/tmp" | head -3)"
	break
done
[ $caught = 1 ] || it_fail "no SIGTERM landed in a checkout of 16000 files in 5 trials"
ok "SIGTERM during the checkout: exit 143, tmp/ empty"
