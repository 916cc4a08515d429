# it_views.sh — status, ls, show, explain and doctor against a real cache built
# by ensure on the fixture's engine: their --json documents (docs/json.md), the
# human output, exit codes for ambiguous and unknown names, and colour rules.
. "$(dirname "$0")/lib.sh"
it_setup
export MOLCACHE_RUNTIMES=claude-code,codex

# jq-less JSON checks: jcheck FILE PYTHON-EXPR [ARGS...] — the expression sees
# d (the document) and a (sys.argv[2:]); it must be true.
jcheck() {
	local f=$1 expr=$2
	shift 2
	python3 - "$f" "$expr" "$@" <<'PY' || it_fail "json check failed: $expr (file $f)"
import json, sys
d = json.load(open(sys.argv[1]))
a = sys.argv[3:]
ok = eval(sys.argv[2])
if not ok:
    print(json.dumps(d, indent=1)[:3000], file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}
J=$IT_DIR/j.json

# ---- an empty cache --------------------------------------------------------
mc status --json > "$J" || it_fail "status on an empty cache"
jcheck "$J" 'd["schema_version"] == 1 and d["entries"]["total"] == 0 and d["hit_rate"] is None and d["last_gc"] is None and d["runtimes"] == [] and d["root"] == a[0]' "$MOLCACHE_HOME"
mc ls --json > "$J" && jcheck "$J" 'd["schema_version"] == 1 and d["entries"] == []'
[ "$(mc ls)" = "no entries" ] || it_fail "ls on an empty cache"
ok "status and ls on an empty cache"

# ---- a real cache: two builds of claude-code, one hit, one failed codex ------
src=$(simple_template claude-code)
mkrepo claude-code "$src"
bad=$IT_DIR/src-codex; mkdir -p "$bad"
printf 'FROM %s\nRUN echo "doomed step output"; exit 3\n' "$MC_BASE_IMAGE" > "$bad/Dockerfile"
mkrepo codex "$bad"

tag1=$(mc ensure claude-code --network none 2>/dev/null) || it_fail "first ensure"
key1=$(image_label "$tag1" molcache.key)
sha1=$(git -C "$IT_DIR/work/claude-code" rev-parse HEAD)
[ "$(mc ensure claude-code --network none 2>/dev/null)" = "$tag1" ] || it_fail "hit"
commit claude-code notes.txt "second"
sha2=$(git -C "$IT_DIR/work/claude-code" rev-parse HEAD)
tag2=$(mc ensure claude-code --network none 2>/dev/null) || it_fail "second ensure"
key2=$(image_label "$tag2" molcache.key)
[ "$key1" != "$key2" ] || it_fail "new commit, same key"
if mc ensure codex --network none >/dev/null 2>&1; then it_fail "codex build should fail"; fi
keybad=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT key FROM entries WHERE runtime='codex'")
[ ${#keybad} = 64 ] || it_fail "no codex row"
ok "fixture: $key1 → $key2 (claude-code), $keybad failed (codex)"

# ---- status ---------------------------------------------------------------
mc status --json > "$J" || it_fail "status --json"
hits=$(counter hits); misses=$(counter misses); builds=$(counter builds); fails=$(counter build_failures)
jcheck "$J" 'd["entries"] == {"total": 3, "building": 0, "ready": 2, "failed": 1, "evicting": 0}'
jcheck "$J" 'd["counters"]["hits"] == int(a[0]) and d["counters"]["misses"] == int(a[1]) and d["counters"]["builds"] == int(a[2]) == 2 and d["counters"]["build_failures"] == int(a[3]) == 1' "$hits" "$misses" "$builds" "$fails"
jcheck "$J" 'abs(d["hit_rate"] - int(a[0]) / (int(a[0]) + int(a[1]))) < 1e-9' "$hits" "$misses"
jcheck "$J" 'd["bytes"]["images"] > 0 and d["bytes"]["trees"] > 0 and d["bytes"]["total"] == d["bytes"]["images"] + d["bytes"]["trees"]'
sum_img=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT sum(image_bytes) FROM entries")
jcheck "$J" 'd["bytes"]["images"] == int(a[0])' "$sum_img"
jcheck "$J" '[r["runtime"] for r in d["runtimes"]] == ["claude-code", "codex"]'
jcheck "$J" 'd["runtimes"][0]["latest"]["key"] == a[0] and d["runtimes"][0]["latest"]["commit"] == a[1] and d["runtimes"][0]["latest"]["tag"] == a[2] and d["runtimes"][0]["entries"] == 2 and d["runtimes"][0]["latest"]["age_ms"] >= 0' "$key2" "$sha2" "$tag2"
jcheck "$J" 'd["runtimes"][1]["latest"] is None and d["runtimes"][1]["ready"] == 0'
jcheck "$J" 'd["counters"]["build_attempts"] == 3 and d["counters"]["build_ms"] > 0 and d["leases"] == []'
mc status > "$IT_DIR/status.txt" || it_fail "status"
grep -q "^entries: *3 (2 ready, 1 failed)" "$IT_DIR/status.txt" || { cat "$IT_DIR/status.txt"; it_fail "status text: entries"; }
grep -q "claude-code *${key2:0:12} *${sha2:0:12}" "$IT_DIR/status.txt" || { cat "$IT_DIR/status.txt"; it_fail "status text: runtime row"; }
if grep -q $'\033' "$IT_DIR/status.txt"; then it_fail "colour when stdout is not a terminal"; fi
ok "status --json: entries by state, bytes, counters, hit rate, latest per runtime"

# a gc run and a lease show up (recorded through the index, as gc and ensure --lease do)
now=$(date +%s%3N)
sqlite3 "$MOLCACHE_HOME/index.db" "INSERT INTO gc_runs (started_ms, duration_ms, evicted, bytes_freed, errors) VALUES ($now - 60000, 1200, 4, 123456789, 0);
	INSERT INTO leases (key, until_ms) VALUES ('$key1', $now + 3600000), ('$keybad', $now - 1000);"
mc status --json > "$J"
jcheck "$J" 'd["last_gc"]["bytes_freed"] == 123456789 and d["last_gc"]["evicted"] == 4 and d["last_gc"]["started_ms"] == int(a[0]) - 60000' "$now"
jcheck "$J" '[l["key"] for l in d["leases"]] == [a[0]]' "$key1"
mc status | grep -q "^last gc: *1 min ago: 4 evicted, 117.7 MiB freed" || { mc status; it_fail "status text: last gc"; }
ok "status shows the last gc run and active leases only"

# prometheus textfile: every sample has HELP and TYPE, the values match the JSON
mc status --format prometheus > "$IT_DIR/m.prom" || it_fail "status --format prometheus"
python3 - "$IT_DIR/m.prom" "$J" <<'PY' || it_fail "prometheus textfile"
import json, re, sys
text = open(sys.argv[1]).read()
d = json.load(open(sys.argv[2]))
helps, types, samples = set(), {}, {}
for line in text.splitlines():
    if line.startswith("# HELP "):
        helps.add(line.split()[2])
    elif line.startswith("# TYPE "):
        _, _, name, t = line.split()
        types[name] = t
    else:
        m = re.fullmatch(r'([a-z_]+)(\{[a-z]+="[a-z]+"\})? (-?[0-9.e+]+)', line)
        assert m, "bad sample line: %r" % line
        assert m.group(1) in helps and m.group(1) in types, "no HELP/TYPE for " + m.group(1)
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
for n, t in types.items():
    assert t == ("counter" if n.endswith("_total") else "gauge"), (n, t)
want = {
    'molcache_entries{state="ready"}': d["entries"]["ready"],
    'molcache_entries{state="failed"}': d["entries"]["failed"],
    'molcache_entries{state="building"}': 0,
    'molcache_entries{state="evicting"}': 0,
    'molcache_bytes{kind="trees"}': d["bytes"]["trees"],
    'molcache_bytes{kind="images"}': d["bytes"]["images"],
    "molcache_hits_total": d["counters"]["hits"],
    "molcache_misses_total": d["counters"]["misses"],
    "molcache_builds_total": d["counters"]["builds"],
    "molcache_build_failures_total": d["counters"]["build_failures"],
    "molcache_build_seconds_total": d["counters"]["build_ms"] / 1000,
    "molcache_last_gc_timestamp_seconds": d["last_gc"]["started_ms"] / 1000,
    "molcache_last_gc_freed_bytes": d["last_gc"]["bytes_freed"],
}
for k, v in want.items():
    assert k in samples, "missing " + k
    assert abs(samples[k] - v) < 0.01, (k, samples[k], v)
PY
mc status --format prometheus -o "$IT_DIR/textfile.prom" || it_fail "status -o"
cmp -s "$IT_DIR/textfile.prom" "$IT_DIR/m.prom" || it_fail "status -o wrote something else"
ls "$IT_DIR"/textfile.prom.tmp.* >/dev/null 2>&1 && it_fail "status -o left a temp file"
ok "status --format prometheus: node_exporter textfile, values match the JSON; -o writes it atomically"

# ---- ls ---------------------------------------------------------------------
mc ls --json > "$J" || it_fail "ls --json"
jcheck "$J" 'len(d["entries"]) == 3 and {e["key"] for e in d["entries"]} == set(a)' "$key1" "$key2" "$keybad"
jcheck "$J" '[e["last_used_ms"] or 0 for e in d["entries"]] == sorted([e["last_used_ms"] or 0 for e in d["entries"]], reverse=True)'
jcheck "$J" '[e["key"] for e in d["entries"] if e["latest"]] == [a[0]]' "$key2"
jcheck "$J" '[e for e in d["entries"] if e["key"] == a[0]][0]["commit"] == a[1] and [e for e in d["entries"] if e["key"] == a[0]][0]["use_count"] == 2 and [e for e in d["entries"] if e["key"] == a[0]][0]["state"] == "ready"' "$key1" "$sha1"
jcheck "$J" '[e for e in d["entries"] if e["key"] == a[0]][0]["state"] == "failed" and [e for e in d["entries"] if e["key"] == a[0]][0]["image_id"] is None' "$keybad"
mc ls --json --runtime claude-code > "$J" && jcheck "$J" 'sorted(e["key"] for e in d["entries"]) == sorted(a)' "$key1" "$key2"
mc ls --json --sort size > "$J" && jcheck "$J" '[e["tree_bytes"] + e["image_bytes"] for e in d["entries"]] == sorted([e["tree_bytes"] + e["image_bytes"] for e in d["entries"]], reverse=True)'
mc ls --json --sort key > "$J" && jcheck "$J" '[e["key"] for e in d["entries"]] == sorted(a)' "$key1" "$key2" "$keybad"
mc ls --json --sort runtime > "$J" && jcheck "$J" '[e["runtime"] for e in d["entries"]] == ["claude-code", "claude-code", "codex"]'
set +e; mc ls --sort colour >/dev/null 2>"$IT_DIR/err"; rc=$?; set -e
[ $rc = 2 ] && grep -q "^molcache: --sort 'colour'" "$IT_DIR/err" && grep -q "^hint:" "$IT_DIR/err" || it_fail "ls --sort colour: rc $rc"
mc ls > "$IT_DIR/ls.txt"
head -1 "$IT_DIR/ls.txt" | grep -q "^KEY  *RUNTIME  *COMMIT  *TAG  *SIZE  *LAST USED  *USES  *STATE  *ORIGIN$" || it_fail "ls header"
grep -q "^${key2:0:12}  *claude-code  *${sha2:0:12}  *molcache/claude-code:${key2:0:12} (latest) " "$IT_DIR/ls.txt" || { cat "$IT_DIR/ls.txt"; it_fail "ls latest row"; }
grep -q "^${keybad:0:12}  *codex .* failed  *built$" "$IT_DIR/ls.txt" || { cat "$IT_DIR/ls.txt"; it_fail "ls failed row"; }
# columns line up: ORIGIN starts at the same offset on every line
[ "$(awk '{ print length($0) - length($NF) }' "$IT_DIR/ls.txt" | sort -u | wc -l)" = 1 ] || { cat "$IT_DIR/ls.txt"; it_fail "ls columns not aligned"; }
ok "ls: JSON rows, sort orders, --runtime, a bad --sort is a usage error, aligned table"

# colour: only on a terminal, and NO_COLOR wins
script -qec "$MOLCACHE ls" /dev/null > "$IT_DIR/tty.txt" || it_fail "ls under script(1)"
grep -q $'\033\\[32mready' "$IT_DIR/tty.txt" || { cat -v "$IT_DIR/tty.txt"; it_fail "no colour on a terminal"; }
NO_COLOR=1 script -qec "$MOLCACHE ls" /dev/null > "$IT_DIR/tty.txt"
if grep -q $'\033' "$IT_DIR/tty.txt"; then it_fail "colour despite NO_COLOR"; fi
ok "colour on a terminal only, NO_COLOR honoured"

# ---- show -------------------------------------------------------------------
mc show claude-code --json > "$J" || it_fail "show claude-code"
jcheck "$J" 'd["schema_version"] == 1 and d["matched_by"] == "runtime" and d["entry"]["key"] == a[0] and d["entry"]["latest"] is True' "$key2"
jcheck "$J" 'd["engine"]["asked"] and d["engine"]["present"] and d["engine"]["labels"]["molcache.key"] == a[0] and d["engine"]["labels"]["molcache.commit"] == a[1]' "$key2" "$sha2"
jcheck "$J" 'len(d["builds"]) == 1 and d["builds"][0]["ok"] and d["builds"][0]["duration_ms"] > 0 and d["log"]["path"] == d["builds"][0]["log_path"] and len(d["log"]["tail"]) > 0'
jcheck "$J" 'd["entry"]["commit"] == a[0] and d["entry"]["dockerfile_path"] == "Dockerfile" and len(d["entry"]["dockerfile_hash"]) == 64 and d["entry"]["platform"].startswith("linux/") and d["entry"]["build_args"] == {} and d["entry"]["tree_path"].endswith("/trees/" + a[1])' "$sha2" "$key2"
[ -f "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["log"]["path"])' "$J")" ] || it_fail "the log path does not exist"
for name in "${key1:0:12}" "$key1" "$tag1" "claude-code:${key1:0:12}"; do
	mc show "$name" --json > "$J" || it_fail "show $name"
	jcheck "$J" 'd["entry"]["key"] == a[0]' "$key1"
done
mc show molcache/claude-code:latest --json > "$J" && jcheck "$J" 'd["entry"]["key"] == a[0] and d["matched_by"] == "tag"' "$key2"
mc show "${key1:0:12}" --json > "$J" && jcheck "$J" 'd["matched_by"] == "prefix" and d["entry"]["latest"] is False and d["lease_until_ms"] is not None'
# the engine does not answer: show still shows the index's view, and says so
DOCKER_HOST=unix://$IT_DIR/no-engine.sock mc show claude-code --json > "$J" || it_fail "show without an engine"
jcheck "$J" 'd["engine"]["asked"] is False and d["engine"]["present"] is None and "no-engine.sock" in d["engine"]["error"] and d["entry"]["key"] == a[0]' "$key2"
DOCKER_HOST=unix://$IT_DIR/no-engine.sock mc show claude-code | grep -q "^labels: (the engine did not answer: .*no-engine.sock" || it_fail "show text without an engine"
set +e; mc show codex --json > "$J"; rc=$?; set -e
[ $rc = 0 ] || it_fail "show codex: rc $rc"
jcheck "$J" 'd["entry"]["state"] == "failed" and len(d["builds"]) == 1 and not d["builds"][0]["ok"] and any("doomed step output" in l for l in d["log"]["tail"]) and d["engine"]["present"] is False'
mc show "$tag2" > "$IT_DIR/show.txt"
for want in "^key: *$key2" "^state: *ready" "^ *molcache/claude-code:latest" "^ *commit: *$sha2" "^ *molcache.key=$key2" "^build log: " "^ *| "; do
	grep -q "$want" "$IT_DIR/show.txt" || { cat "$IT_DIR/show.txt"; it_fail "show text lacks $want"; }
done
mc show codex -n 3 > "$IT_DIR/show.txt"
[ "$(grep -c '^  | ' "$IT_DIR/show.txt")" = 3 ] || { cat "$IT_DIR/show.txt"; it_fail "show -n 3"; }
ok "show by runtime, key prefix, full key, tag: inputs, image labels, build history, log tail"

# ambiguous: a second row sharing the first 10 digits of key1 (made in the index)
twin=${key1:0:10}$(printf '%054d' 0)
[ "$twin" != "$key1" ] || twin=${key1:0:10}$(printf '%054d' 1)
sqlite3 "$MOLCACHE_HOME/index.db" "INSERT INTO entries (key, runtime, state) VALUES ('$twin', 'claude-code', 2)"
set +e; mc show "${key1:0:10}" > /dev/null 2> "$IT_DIR/err"; rc=$?; set -e
[ $rc = 2 ] || it_fail "ambiguous prefix: rc $rc"
grep -q "ambiguous" "$IT_DIR/err" && grep -q "$key1" "$IT_DIR/err" && grep -q "$twin" "$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "ambiguous: candidates not listed"; }
mc show "${key1:0:11}" --json > "$J" && jcheck "$J" 'd["entry"]["key"] == a[0]' "$key1"
sqlite3 "$MOLCACHE_HOME/index.db" "DELETE FROM entries WHERE key = '$twin'"
for unknown in 0000000000000000ffff nosuch-runtime molcache/claude-code:000000000000; do
	set +e; mc show "$unknown" >/dev/null 2>"$IT_DIR/err"; rc=$?; set -e
	[ $rc = 8 ] && grep -q "^molcache: '$unknown'" "$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "show $unknown: rc $rc, want 8"; }
done
ok "show: an ambiguous prefix lists its candidates (exit 2), unknown names exit 8"

# ---- explain ----------------------------------------------------------------
mc explain claude-code --json > "$J" || it_fail "explain (hit)"
jcheck "$J" 'd["schema_version"] == 1 and d["result"] == "hit" and d["key"] == a[0] and d["tag"] == a[1] and d["inputs"]["commit"] == a[2] and d["nearest"] is None' "$key2" "$tag2" "$sha2"
mc explain claude-code | grep -q "^result: *hit" || it_fail "explain text (hit)"
# other platform and a build arg: both named against the nearest entry (:latest)
mc explain claude-code --platform linux/arm64 --build-arg FOO=bar --json > "$J" || it_fail "explain (flags)"
jcheck "$J" 'd["result"] == "miss" and d["indexed_state"] is None and d["nearest"]["entry"]["key"] == a[0] and d["nearest"]["entry"]["latest"]' "$key2"
jcheck "$J" 'sorted((x["field"], x.get("name"), x["old"], x["new"]) for x in d["nearest"]["differences"]) == [("build_arg", "FOO", None, "sha256:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"), ("platform", None, d["nearest"]["entry"]["platform"], "linux/arm64")]'
# a new commit that changes the Dockerfile, not yet built
printf 'FROM %s\nCOPY . /ctx\nRUN echo changed > /built.txt\n' "$MC_BASE_IMAGE" > "$IT_DIR/work/claude-code/Dockerfile"
commit claude-code notes.txt "third"
sha3=$(git -C "$IT_DIR/work/claude-code" rev-parse HEAD)
mc explain claude-code --json > "$J" || it_fail "explain (new commit)"
jcheck "$J" 'd["result"] == "miss" and d["inputs"]["commit"] == a[0] and d["nearest"]["entry"]["key"] == a[1]' "$sha3" "$key2"
jcheck "$J" 'sorted(x["field"] for x in d["nearest"]["differences"]) == ["commit", "dockerfile_hash"] and [x for x in d["nearest"]["differences"] if x["field"] == "commit"][0]["old"] == a[0]' "$sha2"
mc explain claude-code > "$IT_DIR/explain.txt"
grep -q "^result: *miss" "$IT_DIR/explain.txt" && grep -q "commit: *${sha2:0:12} → ${sha3:0:12}" "$IT_DIR/explain.txt" && grep -q "dockerfile_hash:" "$IT_DIR/explain.txt" || { cat "$IT_DIR/explain.txt"; it_fail "explain text (new commit)"; }
[ "$(counter builds)" = 2 ] || it_fail "explain built something"
# the pinned old commit is cached, but its image was removed behind molcache's back
mc explain claude-code --ref "$sha1" --json > "$J" && jcheck "$J" 'd["result"] == "hit" and d["key"] == a[0]' "$key1"
engine_req DELETE "/images/$(image_id "$tag1")?force=1" >/dev/null
mc explain claude-code --ref "$sha1" --json > "$J"
jcheck "$J" 'd["result"] == "miss" and d["indexed_state"] == "ready" and "gone" in d["reason"] and d["nearest"]["entry"]["key"] == a[0]' "$key2"
mc show "${key1:0:12}" --json > "$J" && jcheck "$J" 'd["engine"]["asked"] and d["engine"]["present"] is False'
set +e; mc explain no/such >/dev/null 2>"$IT_DIR/err"; rc=$?; set -e
[ $rc = 2 ] || it_fail "explain with a bad runtime name: rc $rc"
ok "explain: hit; miss with platform, build arg, commit and Dockerfile diffs; a vanished image"

# ---- doctor (the thorough cases are in it_doctor.sh) -------------------------
mc doctor --json > "$J" || { cat "$J"; it_fail "doctor in the fixture"; }
jcheck "$J" 'd["schema_version"] == 1 and d["ok"] and d["summary"]["fail"] == 0 and {c["name"] for c in d["checks"]} >= {"cache root", "index", "engine", "build", "remote", "disk"}'
jcheck "$J" '[c["status"] for c in d["checks"] if c["name"] == "build"] == ["pass"] and len([c for c in d["checks"] if c["name"] == "remote"]) == 2'
ok "doctor --json passes in the fixture"

# ---- help for every view ----------------------------------------------------
for c in status ls show explain doctor; do
	mc "$c" --help | grep -q "^usage: molcache $c" || it_fail "$c --help"
	mc help "$c" | grep -q "^usage: molcache $c" || it_fail "help $c"
done
ok "--help for every view"
