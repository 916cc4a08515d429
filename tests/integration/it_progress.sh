# it_progress.sh — what ensure shows while it works: per-step BuildKit progress on a
# terminal (script(1) gives it a pty), one line per phase otherwise, JSON lines with
# --log-format json, and for a failing RUN step the step's name and its output.
. "$(dirname "$0")/lib.sh"
it_setup
command -v script >/dev/null || it_fail "script(1) missing (bsdutils)"

d=$IT_DIR/src; mkdir -p "$d"
echo "$IT_DIR $RANDOM" > "$d/nonce"  # new content: the engine's layer cache cannot answer the steps
cat > "$d/Dockerfile" <<DF
FROM $MC_BASE_IMAGE
COPY nonce /nonce
RUN echo first-step-output
RUN echo second-step-output > /x
DF
mkrepo claude-code "$d"

# a terminal: each step's line as it runs and ends, its output, live fetch counts
NO_COLOR=1 script -qefc "$MOLCACHE ensure claude-code --network none" "$IT_DIR/tty.log" >/dev/null </dev/null ||
	{ cat "$IT_DIR/tty.log"; it_fail "ensure on a pty"; }
tr -d '\r' < "$IT_DIR/tty.log" > "$IT_DIR/tty.txt"
grep -q '^=> \[3/4\] RUN echo first-step-output$' "$IT_DIR/tty.txt" || { cat "$IT_DIR/tty.txt"; it_fail "no start line for step 3/4"; }
grep -q '=> \[3/4\] RUN echo first-step-output .*DONE [0-9.]*s' "$IT_DIR/tty.txt" || { cat "$IT_DIR/tty.txt"; it_fail "no done line for step 3/4"; }
grep -q '=> \[4/4\] RUN echo second-step-output > /x .*DONE' "$IT_DIR/tty.txt" || it_fail "no done line for step 4/4"
grep -q '   | first-step-output' "$IT_DIR/tty.txt" || it_fail "step output not shown"
grep -q 'fetch: [0-9]*/[0-9]* objects' "$IT_DIR/tty.txt" || it_fail "no fetch progress"
ok "a terminal shows per-step BuildKit progress and output"

# not a terminal: one line per phase, with durations
commit claude-code f.txt "new"
mc ensure claude-code --network none 2>"$IT_DIR/plain.txt" >/dev/null
for ph in resolve fetch checkout build tag; do
	grep -q "^molcache: $ph *[0-9]* ms$" "$IT_DIR/plain.txt" || { cat "$IT_DIR/plain.txt"; it_fail "no '$ph' phase line"; }
done
grep -q "RUN" "$IT_DIR/plain.txt" && it_fail "step lines in non-terminal output"
ok "not a terminal: one line per phase with durations"

# JSON lines for log collectors
commit claude-code f.txt "newer"
mc ensure claude-code --network none --log-format json 2>"$IT_DIR/json.txt" >/dev/null
python3 - "$IT_DIR/json.txt" <<'PY' || it_fail "bad JSON log"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
kinds = {e["event"] for e in evs}
assert {"phase_end", "step", "result"} <= kinds, kinds
assert any(e["event"] == "step" and e.get("state") in ("done", "cached") and "[3/4]" in e["step"] for e in evs)
assert all("ts_ms" in e and "level" in e for e in evs)
begins = [e["phase"] for e in evs if e["event"] == "phase_begin"]
ends = [e["phase"] for e in evs if e["event"] == "phase_end"]
assert sorted(begins) == sorted(ends), (begins, ends)
fetches = [e for e in evs if e["event"] == "fetch"]
assert len(fetches) <= begins.count("fetch"), fetches
assert evs[-1]["event"] == "result" and evs[-1]["ok"] is True
PY
ok "--log-format json: one JSON object per event, each phase_begin has its end, one fetch event per fetch"

# a failing RUN step: its name and its output, the log kept and named
cat > "$IT_DIR/work/claude-code/Dockerfile" <<DF
FROM $MC_BASE_IMAGE
COPY nonce /nonce
RUN echo fine
RUN sh -c 'echo to-stdout-before-failing; echo to-stderr-before-failing >&2; exit 7'
DF
git -C "$IT_DIR/work/claude-code" commit -qam fail && git -C "$IT_DIR/work/claude-code" push -q origin main
set +e; mc ensure claude-code --network none >/dev/null 2>"$IT_DIR/fail.txt"; rc=$?; set -e
[ $rc = 5 ] || { cat "$IT_DIR/fail.txt"; it_fail "failing RUN: exit $rc"; }
grep -q "^molcache: failed step: \[4/4\] RUN sh -c" "$IT_DIR/fail.txt" || { cat "$IT_DIR/fail.txt"; it_fail "failing step not named"; }
grep -q "  | to-stdout-before-failing" "$IT_DIR/fail.txt" || it_fail "stdout of the failing step not shown"
grep -q "  | to-stderr-before-failing" "$IT_DIR/fail.txt" || it_fail "stderr of the failing step not shown"
log=$(sed -n 's/^hint: .*the build log is at //p' "$IT_DIR/fail.txt")
[ -f "$log" ] || it_fail "build log '$log' missing"
grep -q "to-stderr-before-failing" "$log" && grep -q "RUN echo fine" "$log" || it_fail "build log incomplete"
ok "a failing RUN step: named, its output shown, the whole log kept at $log"

# the same failure as JSON: every stderr line one object, an error event, then the result
commit claude-code g.txt "fail again"
set +e; mc ensure claude-code --network none --log-format json >/dev/null 2>"$IT_DIR/failjson.txt"; rc=$?; set -e
[ $rc = 5 ] || { cat "$IT_DIR/failjson.txt"; it_fail "failing RUN, json: exit $rc"; }
python3 - "$IT_DIR/failjson.txt" <<'PY' || { cat "$IT_DIR/failjson.txt"; it_fail "bad JSON failure stream"; }
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
begins = [e["phase"] for e in evs if e["event"] == "phase_begin"]
ends = [e["phase"] for e in evs if e["event"] == "phase_end"]
assert sorted(begins) == sorted(ends), (begins, ends)
err, res = evs[-2], evs[-1]
assert err["event"] == "error" and err["exit_code"] == 5, err
assert err["failed_step"].startswith("[4/4] RUN sh -c"), err
assert any("to-stderr-before-failing" in l for l in err["failed_output"]), err
assert err["log"].endswith(".log") and err["message"] and err["hint"], err
assert res["event"] == "result" and res["ok"] is False and res["exit_code"] == 5, res
PY
ok "a failure under --log-format json: only JSON lines, an error event (code, message, hint, step, output, log), then the result"
