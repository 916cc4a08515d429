# it_recover.sh — the index is only a cache of facts held elsewhere. Images
# carry every input of their row in labels; a miss adopts an image labelled
# with this root and key instead of rebuilding it (index.db deleted: no build,
# same tag and image id); `doctor --repair` rebuilds rows, trees and :latest
# from the labels, taking the root id back from them (or --root-id); a damaged
# index (garbage bytes, a truncated file) makes every command fail with a hint
# naming `doctor --repair`, which moves it aside and rebuilds.
. "$(dirname "$0")/lib.sh"
it_setup
export MOLCACHE_RUNTIMES=claude-code,codex
IX=$MOLCACHE_HOME/index.db
q() { sqlite3 "$IX" "$1"; }
run() { # run WANT_RC NAME ARGS...
	local want=$1 name=$2; shift 2
	set +e; "$@" >"$IT_DIR/$name.out" 2>"$IT_DIR/$name.err"; local rc=$?; set -e
	[ "$rc" = "$want" ] || { cat "$IT_DIR/$name.out" "$IT_DIR/$name.err"; it_fail "$name: exit $rc, want $want"; }
}
rows() { q "SELECT key, runtime, repo_prefix, ref, head_sha, dockerfile_path, dockerfile_hash, platform,
	replace(build_args, char(10), '|'), image_tag, image_id, tree_path, state FROM entries ORDER BY key"; }
latest() { q "SELECT runtime || '=' || key FROM latest ORDER BY runtime"; }
drop_index() { rm -f "$IX" "$IX-wal" "$IX-shm"; }

for rt in claude-code codex; do mkrepo "$rt" "$(simple_template "$rt")"; done
mc ensure claude-code --network none >/dev/null 2>&1
mc ensure codex --network none --build-arg B=2 --build-arg A="x y" >/dev/null 2>&1
tag_old=$(mc ensure codex --network none 2>/dev/null)
commit codex README "new"
tag=$(mc ensure codex --network none 2>/dev/null)
cc_tag=$(mc ensure claude-code --network none 2>/dev/null)
cc_id=$(image_id "$cc_tag")
root_id=$(q "SELECT value FROM meta WHERE name = 'root-id'")
rows > "$IT_DIR/rows.before"
latest > "$IT_DIR/latest.before"
[ "$(wc -l < "$IT_DIR/rows.before")" = 4 ] || it_fail "want 4 rows, have $(wc -l < "$IT_DIR/rows.before")"

# ---- labels carry every input of the row --------------------------------------
sqlite3 -json "$IX" "SELECT key, runtime, repo_prefix, ref, head_sha, dockerfile_path, dockerfile_hash, platform, build_args, image_id FROM entries" > "$IT_DIR/rows.json"
python3 - "$IT_DIR/rows.json" "$(engine_sock)" "$root_id" <<'PY' || it_fail "labels do not carry the row"
import json, subprocess, sys
rows, sock, root = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
names = {"key": "molcache.key", "runtime": "molcache.runtime", "repo_prefix": "molcache.repo-prefix",
         "ref": "molcache.ref", "head_sha": "molcache.commit", "dockerfile_path": "molcache.dockerfile",
         "dockerfile_hash": "molcache.dockerfile-hash", "platform": "molcache.platform",
         "build_args": "molcache.build-args"}
for r in rows:
    out = subprocess.run(["curl", "-sf", "--unix-socket", sock, "http://d/images/%s/json" % r["image_id"]],
                         capture_output=True, check=True).stdout
    l = json.loads(out)["Config"]["Labels"]
    for col, lab in names.items():
        assert l[lab] == (r[col] or ""), (col, l[lab], r[col])
    assert l["molcache.root"] == root and l["molcache.key-format"] == "1", l
PY
ok "labels carry every input of the row (key, key format, root, runtime, prefix, ref, commit, Dockerfile path and hash, platform, build args)"

# ---- index.db deleted: a miss adopts the labelled image ------------------------
drop_index
run 0 adopt mc ensure claude-code --network none
[ "$(cat "$IT_DIR/adopt.out")" = "$cc_tag" ] || it_fail "adopted tag $(cat "$IT_DIR/adopt.out"), want $cc_tag"
[ "$(image_id "$cc_tag")" = "$cc_id" ] || it_fail "the image changed"
[ "$(counter builds)" = 0 ] && [ "$(counter adopted)" = 1 ] || it_fail "builds $(counter builds), adopted $(counter adopted)"
grep -q "^build" "$IT_DIR/adopt.err" && it_fail "adoption built: $(cat "$IT_DIR/adopt.err")"
[ "$(q "SELECT value FROM meta WHERE name = 'root-id'")" = "$root_id" ] || it_fail "the root id did not come back from the labels"
[ "$(q "SELECT count(*) FROM entries")" = 1 ] && [ "$(q "SELECT state FROM entries")" = 1 ] || it_fail "adopted row: $(rows)"
rows | grep -q "$(grep "$cc_id" "$IT_DIR/rows.before")" || it_fail "adopted row differs: $(rows) vs $(grep "$cc_id" "$IT_DIR/rows.before")"
run 0 adopt2 mc ensure claude-code --network none
[ "$(counter hits)" = 1 ] || it_fail "after adoption: not a hit"
ok "index.db deleted: ensure adopts $cc_tag (no build, same image id, root id back from the labels)"

# ---- doctor --repair rebuilds every row, tree and :latest ----------------------
drop_index
run 0 repair mc doctor --repair --no-build --no-remotes
grep -q "^PASS  repair .*root id $root_id (from labels); 4 labelled images: 4 rows restored" "$IT_DIR/repair.out" || { cat "$IT_DIR/repair.out"; it_fail "repair report"; }
diff "$IT_DIR/rows.before" <(rows) || it_fail "repaired rows differ"
diff "$IT_DIR/latest.before" <(latest) || it_fail "repaired :latest differs"
run 0 after-repair mc ensure codex --network none
[ "$(cat "$IT_DIR/after-repair.out")" = "$tag" ] && [ "$(counter builds)" = 0 ] && [ "$(counter hits)" = 1 ] || it_fail "after repair: not a hit"
run 0 again mc doctor --repair --no-build --no-remotes --json
python3 -c 'import json,sys; c=[c for c in json.load(open(sys.argv[1]))["checks"] if c["name"]=="repair"][0]; assert c["status"]=="pass" and "root id '"$root_id"' (from index)" in c["message"] and "0 rows restored, 4 already right" in c["message"], c' "$IT_DIR/again.out" ||
	it_fail "a second repair is a no-op"
ok "doctor --repair restores 4 rows (inputs, image ids, trees) and each :latest from the labels; a second one changes nothing"

# ---- a damaged index: garbage bytes --------------------------------------------
head -c 65536 /dev/urandom > "$IX"
for cmd in "ensure codex --network none" "status" "ls" "show codex" "gc --dry-run"; do
	# shellcheck disable=SC2086
	run 1 garbage mc $cmd
	grep -q "^molcache: index '$IX': .*not a database" "$IT_DIR/garbage.err" || { cat "$IT_DIR/garbage.err"; it_fail "$cmd: message"; }
	grep -q "^hint: run 'molcache doctor --repair'" "$IT_DIR/garbage.err" || { cat "$IT_DIR/garbage.err"; it_fail "$cmd: hint"; }
done
run 1 doctor-garbage mc doctor --no-build --no-remotes
grep -q "^FAIL  index" "$IT_DIR/doctor-garbage.out" && grep -q "hint: run 'molcache doctor --repair'" "$IT_DIR/doctor-garbage.out" ||
	{ cat "$IT_DIR/doctor-garbage.out"; it_fail "doctor: FAIL index naming --repair"; }
run 0 repair-garbage mc doctor --repair --no-build --no-remotes
aside=$(ls "$MOLCACHE_HOME" | grep '^index.db.corrupt-[0-9]\{8\}T[0-9]\{6\}Z$') || { ls "$MOLCACHE_HOME"; it_fail "no index.db.corrupt-<time>"; }
[ "$(stat -c %s "$MOLCACHE_HOME/$aside")" = 65536 ] || it_fail "the damaged file was not kept as it was"
grep -q "damaged index moved to '$MOLCACHE_HOME/$aside'.*(from labels); 4 labelled images: 4 rows restored" "$IT_DIR/repair-garbage.out" || { cat "$IT_DIR/repair-garbage.out"; it_fail "repair report (garbage)"; }
diff "$IT_DIR/rows.before" <(rows) || it_fail "rows after repairing garbage differ"
run 0 after-garbage mc ensure codex --network none
[ "$(counter builds)" = 0 ] && [ "$(counter hits)" = 1 ] || it_fail "after repairing garbage: not a hit"
ok "garbage in index.db: every command exits 1 with \"index '…': … not a database\" and a hint naming doctor --repair; repair moves it to $aside and rebuilds"

# ---- a damaged index: a truncated file -----------------------------------------
q "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
old_id=$root_id
size=$(stat -c %s "$IX")
truncate -s 8192 "$IX"; rm -f "$IX-wal" "$IX-shm"
run 1 truncated mc ensure codex --network none
grep -q "^molcache: index '$IX': .*malformed" "$IT_DIR/truncated.err" && grep -q "^hint: run 'molcache doctor --repair'" "$IT_DIR/truncated.err" ||
	{ cat "$IT_DIR/truncated.err"; it_fail "truncated: ensure message"; }
run 1 truncated-status mc status
grep -q "^hint: run 'molcache doctor --repair'" "$IT_DIR/truncated-status.err" || { cat "$IT_DIR/truncated-status.err"; it_fail "truncated: status hint"; }
run 0 repair-trunc mc doctor --repair --no-build --no-remotes
grep -q "damaged index moved to .*4 rows restored" "$IT_DIR/repair-trunc.out" || { cat "$IT_DIR/repair-trunc.out"; it_fail "repair report (truncated)"; }
[ "$(q "SELECT value FROM meta WHERE name = 'root-id'")" = "$old_id" ] || it_fail "truncated: root id"
diff "$IT_DIR/rows.before" <(rows) || it_fail "rows after repairing a truncated index differ"
ok "a truncated index.db ($size → 8192 bytes): ensure and status exit 1 naming doctor --repair; repair rebuilds"

# ---- the labels cannot tell the root: --root-id ---------------------------------
drop_index
mv "$MOLCACHE_HOME/trees" "$IT_DIR/trees.away"
run 0 repair-new mc doctor --repair --no-build --no-remotes
grep -q "(from new); 0 labelled images" "$IT_DIR/repair-new.out" || { cat "$IT_DIR/repair-new.out"; it_fail "no trees: a new root id"; }
run 2 bad-id mc doctor --repair --root-id "NOT-HEX"
run 2 id-alone mc doctor --root-id "$root_id"
run 0 repair-forced mc doctor --repair --root-id "$root_id" --no-build --no-remotes
grep -q "root id $root_id (from --root-id); 4 labelled images: 4 rows restored" "$IT_DIR/repair-forced.out" || { cat "$IT_DIR/repair-forced.out"; it_fail "--root-id"; }
[ "$(q "SELECT count(*) FROM entries WHERE tree_path IS NULL")" = 4 ] || it_fail "rows name trees that are gone"
ok "without trees the labels cannot name the root: --root-id restores the rows"

# ---- two roots on one engine: each takes back its own id ------------------------
mv "$IT_DIR/trees.away" "$MOLCACHE_HOME/trees"
A=$MOLCACHE_HOME
export MOLCACHE_HOME=$IT_DIR/cache-b
mc ensure claude-code --network none --build-arg ROOT=b >/dev/null 2>&1
b_id=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT value FROM meta WHERE name = 'root-id'")
[ "$b_id" != "$root_id" ] || it_fail "two roots share an id"
rm -f "$MOLCACHE_HOME/index.db"*
mc doctor --repair --no-build --no-remotes > "$IT_DIR/b.out" || { cat "$IT_DIR/b.out"; it_fail "root b repair"; }
grep -q "root id $b_id (from labels); 1 labelled image: 1 row restored" "$IT_DIR/b.out" || { cat "$IT_DIR/b.out"; it_fail "root b took another id"; }
export MOLCACHE_HOME=$A
ok "two roots on one engine: each root's repair takes back its own id from the images whose keys have trees there"
