# it_events_utf8.sh — issue 15 item 9: --log-format json writes every event,
# invalid UTF-8 in a build's output included (bad bytes replaced by U+FFFD, the
# line still strict JSON), and flushes each line as it goes (a reader of a file
# sees the build's output while the build still runs).
. "$(dirname "$0")/lib.sh"
it_setup

src=$IT_DIR/src-bytes
mkdir -p "$src"
printf 'FROM %s\nRUN printf "before\\n\\377\\376 bad bytes \\303\\n" && echo after && sleep 4\n' "$MC_BASE_IMAGE" >"$src/Dockerfile"
mkrepo crewai "$src"
"$MOLCACHE" ensure crewai --network none --log-format json >/dev/null 2>"$IT_DIR/j.out" &
pid=$!
seen=0
for _ in $(seq 1 300); do
	kill -0 $pid 2>/dev/null || break
	grep -q '"text":"after' "$IT_DIR/j.out" 2>/dev/null && { seen=1; break; }
	sleep 0.05
done
kill -0 $pid 2>/dev/null && [ $seen = 1 ] || it_fail "the build's output was not in the file while the build ran (block-buffered?)"
wait $pid || it_fail "build with invalid UTF-8 output: exit $?"
python3 - "$IT_DIR/j.out" <<'PY' || it_fail "the JSON stream lost or broke an event: $(grep -a bad "$IT_DIR/j.out")"
import json, sys
texts = []
for l in open(sys.argv[1], "rb"):
    e = json.loads(l.decode("utf-8"))   # strict: every line is valid UTF-8 JSON
    texts.append(e.get("text") or "")
bad = [t for t in texts if "bad bytes" in t]
assert bad, "the event with invalid UTF-8 is missing"
assert all("\ufffd" in t for t in bad), bad
assert any("after" in t for t in texts), "events after it are missing"
PY
ok "an event with invalid UTF-8 is written with U+FFFD, and each line is flushed as it is written"
