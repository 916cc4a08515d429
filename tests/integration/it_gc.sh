# it_gc.sh — molcache gc against a real dockerd: each policy evicts exactly what
# it should (engine image list and disk), protections, stale-state sweeps,
# --dry-run changes nothing, gc during an in-flight ensure, busy and partial exits.
. "$(dirname "$0")/lib.sh"
it_setup

db() { sqlite3 "$MOLCACHE_HOME/index.db" "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
keys() { db "SELECT key FROM entries ORDER BY key" | tr '\n' ' '; }
img_of() { db "SELECT image_id FROM entries WHERE key='$1'"; }
# age KEY DAYS: pretend KEY was last used DAYS ago
age() { db "UPDATE entries SET last_used_ms = $(( $(now_ms) - $2 * 86400000 )) WHERE key='$1'"; }
latest() { db "INSERT INTO latest (runtime, key) VALUES ('$1', '$2') ON CONFLICT (runtime) DO UPDATE SET key = excluded.key"; }
gone() { # KEY IMAGE: row, tree and image are gone
	[ -z "$(db "SELECT key FROM entries WHERE key='$1'")" ] || it_fail "row $1 still there"
	[ ! -e "$MOLCACHE_HOME/trees/$1" ] || it_fail "tree $1 still there"
	! image_exists "$2" || it_fail "image $2 of $1 still there"
}
kept() { # KEY: row ready, tree and image there
	[ "$(db "SELECT state FROM entries WHERE key='$1'")" = 1 ] || it_fail "row $1 not ready"
	[ -d "$MOLCACHE_HOME/trees/$1" ] || it_fail "tree $1 missing"
	image_exists "$(img_of "$1")" || it_fail "image of $1 missing"
}
# build N entries of RUNTIME, one commit each; prints their keys in build order
build_n() {
	local rt=$1 n=$2 i
	for i in $(seq 1 "$n"); do
		commit "$rt" f.txt "$rt $i $RANDOM" >/dev/null
		mc ensure "$rt" --network none -q >/dev/null || it_fail "ensure $rt $i"
		db "SELECT key FROM entries WHERE runtime='$rt' ORDER BY created_ms DESC LIMIT 1"
	done
}
snapshot() { # everything gc could touch: the index content and the file listing
	db .dump
	(cd "$MOLCACHE_HOME" && find . -path ./index.db-wal -prune -o -path ./index.db-shm -prune -o -printf '%p %y %s %l\n' | sort)
	engine_get /images/json | python3 -c 'import json,sys; print(sorted(i["Id"] for i in json.load(sys.stdin)))'
}

src=$(simple_template codex)
mkrepo codex "$src"
mkrepo claude-code "$(simple_template claude-code)"
mapfile -t K < <(build_n codex 4)
mapfile -t C < <(build_n claude-code 2)
[ ${#K[@]} = 4 ] && [ ${#C[@]} = 2 ] || it_fail "setup built ${#K[@]} + ${#C[@]} entries"
latest codex "${K[3]}"
latest claude-code "${C[1]}"
ok "built 4 codex + 2 claude-code entries"

# ---- --dry-run changes nothing -----------------------------------------------
age "${K[0]}" 30; age "${K[1]}" 20; age "${K[2]}" 10; age "${K[3]}" 40; age "${C[0]}" 15; age "${C[1]}" 1
mkdir -p "$MOLCACHE_HOME/tmp/stale-dir" && touch -d '3 hours ago' "$MOLCACHE_HOME/tmp/stale-dir"
snapshot > "$IT_DIR/before"
out=$(mc gc --dry-run --max-age 7d --max-size 0 --orphans --prune-mirrors --include-latest) || it_fail "dry run exit $?"
snapshot > "$IT_DIR/after"
diff "$IT_DIR/before" "$IT_DIR/after" >&2 || it_fail "--dry-run changed something"
grep -q "would evict ${K[0]:0:12} (codex): age>7d" <<<"$out" || it_fail "dry run plan: $out"
grep -q "would remove tmp" <<<"$out" || it_fail "dry run does not show the stale tmp entry: $out"
[ "$(db 'SELECT count(*) FROM gc_runs')" = 0 ] || it_fail "dry run recorded a run"
ok "--dry-run prints the plan and changes nothing (index dump, files, images identical)"

# ---- a config-file default plans like the flag; a flag wins over it ---------------
plan_keys() { python3 -c 'import json,sys; print(sorted(p["key"] for p in json.load(sys.stdin)["plan"]))'; }
mkdir -p "$XDG_CONFIG_HOME/molcache"
want=$(mc gc --dry-run --json --max-age 12d | plan_keys)
echo "gc_max_age = 12d" > "$XDG_CONFIG_HOME/molcache/config"
[ "$(mc gc --dry-run --json | plan_keys)" = "$want" ] || it_fail "config gc_max_age plans differently from --max-age"
[ "$(mc gc --dry-run --json --max-age 100d | plan_keys)" = "[]" ] || it_fail "--max-age did not win over the config"
echo "gc_max_age = soon" > "$XDG_CONFIG_HOME/molcache/config"
set +e; mc gc --dry-run >/dev/null 2>&1; rc=$?; set -e
[ $rc = 2 ] || it_fail "a bad gc_max_age in the config: exit $rc, want 2"
rm "$XDG_CONFIG_HOME/molcache/config"
ok "gc_max_age in the config plans like --max-age; the flag wins; a bad value exits 2"

# ---- --max-age: exactly the old ones, never :latest ------------------------------
i0=$(img_of "${K[0]}"); i1=$(img_of "${K[1]}"); i2=$(img_of "${K[2]}"); c0=$(img_of "${C[0]}")
mc gc --max-age 12d -q || it_fail "gc --max-age exit $?"
gone "${K[0]}" "$i0"; gone "${K[1]}" "$i1"; gone "${C[0]}" "$c0"
kept "${K[2]}"; kept "${K[3]}"; kept "${C[1]}"
[ ! -e "$MOLCACHE_HOME/tmp/stale-dir" ] || it_fail "stale tmp entry survived"
[ "$(db 'SELECT evicted FROM gc_runs ORDER BY id DESC LIMIT 1')" = 3 ] || it_fail "gc run not recorded"
ok "--max-age 12d evicts the 3 entries older than that, keeps :latest (40 days old) and the rest"

# ---- --keep N per runtime ----------------------------------------------------------
mapfile -t K2 < <(build_n codex 2)   # codex now: K[2], K[3] (latest), K2[0], K2[1]
latest codex "${K[3]}"
age "${K[2]}" 5; age "${K2[0]}" 3; age "${K2[1]}" 2; age "${K[3]}" 9
mc gc --keep 1 -q || it_fail "gc --keep exit $?"
kept "${K2[1]}"; kept "${K[3]}"; kept "${C[1]}"
[ -z "$(db "SELECT key FROM entries WHERE key IN ('${K[2]}', '${K2[0]}')")" ] || it_fail "--keep 1 left extra rows"
ok "--keep 1 keeps the newest per runtime plus :latest, evicts the rest"

# ---- --max-size: LRU until under, real bytes --------------------------------------
mapfile -t K3 < <(build_n codex 3)
latest codex "${K3[2]}"
age "${K[3]}" 50; age "${K2[1]}" 40; age "${K3[0]}" 30; age "${K3[1]}" 20; age "${K3[2]}" 10; age "${C[1]}" 1
latest claude-code "${C[1]}"
# bytes_before from layer facts: only a size policy gathers them (1T evicts nothing)
before=$(mc gc --dry-run --json --max-size 1T | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_before"])')
per=$(mc gc --dry-run --json --max-size 0 | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["plan"][0]["tree_bytes"]+r["plan"][0]["image_bytes"])')
# room for all but two entries' worth: the two least recently used go
limit=$(( before - 2 * per + per / 2 ))
mc gc --max-size "$limit" --json > "$IT_DIR/size.json" || it_fail "gc --max-size exit $?"
python3 - "$IT_DIR/size.json" "$limit" "${K[3]}" "${K2[1]}" <<'PY' || it_fail "--max-size report"
import json, sys
r = json.load(open(sys.argv[1])); limit = int(sys.argv[2])
got = [p["key"] for p in r["plan"] if p["outcome"] == "done"]
assert got == sys.argv[3:5], (got, sys.argv[3:5])
assert all(p["reason"] == "size" for p in r["plan"]), r["plan"]
assert r["bytes_after_plan"] <= limit, (r["bytes_after_plan"], limit)
assert r["errors"] == 0
PY
[ -z "$(db "SELECT key FROM entries WHERE key IN ('${K[3]}', '${K2[1]}')")" ] || it_fail "--max-size left the LRU rows"
kept "${K3[0]}"; kept "${K3[1]}"; kept "${K3[2]}"; kept "${C[1]}"
ok "--max-size $limit evicts the 2 least recently used and stops when real bytes fit"

# ---- --trees-only -------------------------------------------------------------------
ik=$(img_of "${K3[0]}")
mc gc --trees-only --max-age 25d -q || it_fail "gc --trees-only exit $?"
[ ! -e "$MOLCACHE_HOME/trees/${K3[0]}" ] || it_fail "tree of ${K3[0]} still there"
image_exists "$ik" || it_fail "--trees-only removed the image"
[ "$(db "SELECT state || ':' || coalesce(tree_path, 'NULL') || ':' || tree_bytes FROM entries WHERE key='${K3[0]}'")" = "1:NULL:0" ] ||
	it_fail "--trees-only row: $(db "SELECT * FROM entries WHERE key='${K3[0]}'")"
kept "${K3[1]}"
ok "--trees-only drops the old tree, keeps image and row"

# ---- leases and locks protect ----------------------------------------------------------
# the lease comes from a real `ensure --lease` of that entry's commit (a hit, which also moves :latest back)
leased_tag=$(mc ensure codex -q --ref "$(db "SELECT head_sha FROM entries WHERE key='${K3[1]}'")" --lease 1h) || it_fail "ensure --lease"
[ "$leased_tag" = "$(db "SELECT image_tag FROM entries WHERE key='${K3[1]}'")" ] || it_fail "ensure --lease served $leased_tag"
[ "$(db "SELECT until_ms > $(now_ms) + 3500000 FROM leases WHERE key='${K3[1]}'")" = 1 ] || it_fail "ensure --lease wrote no lease"
latest codex "${K3[2]}"
flock "$MOLCACHE_HOME/locks/${K3[0]}.lock" sleep 4 &
lockpid=$!
sleep 0.3
mc gc --max-age 0s --json > "$IT_DIR/prot.json" || it_fail "gc with protections exit $?"
wait $lockpid
python3 - "$IT_DIR/prot.json" "${K3[0]}" "${K3[1]}" "${K3[2]}" <<'PY' || it_fail "protections: $(cat "$IT_DIR/prot.json")"
import json, sys
r = json.load(open(sys.argv[1]))
why = {p["key"]: p["why"] for p in r["protected"]}
assert why.get(sys.argv[2]) == "locked" and why.get(sys.argv[3]) == "leased" and why.get(sys.argv[4]) == "latest", why
assert not [p for p in r["plan"] if p["key"] in sys.argv[2:5]]
PY
kept "${K3[1]}"; kept "${K3[2]}"
image_exists "$ik" || it_fail "locked entry's image removed"
ok "a locked, a leased and the :latest entry survive --max-age 0s"

# ---- a container using the image: the entry goes, the image stays, exit 0 ----------------
img=$(img_of "${K3[1]}")
db "DELETE FROM leases"
cid=$(curl -s --unix-socket "$(engine_sock)" -X POST -H 'Content-Type: application/json' \
	-d "{\"Image\":\"$img\",\"Cmd\":[\"true\"]}" "http://d/containers/create" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Id"])')
mc gc --max-age 0s --json >"$IT_DIR/c.json" || it_fail "gc with an image in use exited $?, want 0"
python3 - "$IT_DIR/c.json" "${K3[1]}" <<'PY' || it_fail "container: $(cat "$IT_DIR/c.json")"
import json, sys
r = json.load(open(sys.argv[1]))
p = [p for p in r["plan"] if p["key"] == sys.argv[2]][0]
assert p["outcome"] == "done" and p["note"] == "kept: used by a container" and p["bytes_freed"] == p["tree_bytes"], p
assert r["errors"] == 0, r
PY
[ -z "$(db "SELECT key FROM entries WHERE key='${K3[1]}'")" ] || it_fail "the row of the image in use stayed"
image_exists "$img" || it_fail "the image a container uses was removed"
curl -s --unix-socket "$(engine_sock)" -X DELETE "http://d/containers/$cid" >/dev/null
mc gc --orphans -q || it_fail "gc --orphans after the container went: exit $?"
! image_exists "$img" || it_fail "--orphans left the image once its container was gone"
ok "an image used by a container: the entry is evicted, the image stays, the report says why; exit 0; --orphans takes it once the container is gone"

# ---- a second gc exits at once with 6 ----------------------------------------------------
flock "$MOLCACHE_HOME/locks/gc.lock" sleep 3 &
lockpid=$!
sleep 0.3
t0=$(now_ms); set +e; mc gc --max-age 0s 2>"$IT_DIR/err6"; rc=$?; set -e
[ $rc = 6 ] || it_fail "second gc exited $rc, want 6"
[ $(( $(now_ms) - t0 )) -lt 2000 ] || it_fail "second gc waited"
grep -q "another gc is running" "$IT_DIR/err6" || it_fail "busy message: $(cat "$IT_DIR/err6")"
wait $lockpid
ok "a second gc exits at once with 6"

# ---- stale-state sweep ---------------------------------------------------------------------
T=$MOLCACHE_HOME/trees
nk=$(printf 'e%.0s' $(seq 64))          # a key-shaped tree with no row
mkdir -p "$T/$nk/sub" && echo x > "$T/$nk/sub/f"
fk=$(printf 'f%.0s' $(seq 64))          # a row whose tree vanished
db "INSERT INTO entries (key, runtime, image_id, image_tag, tree_path, tree_bytes, state, last_used_ms)
    SELECT '$fk', runtime, image_id, image_tag, '$T/$fk', 99, 1, last_used_ms FROM entries WHERE key='${K3[2]}'"
bk=$(printf 'b%.0s' $(seq 64))          # a row a dead ensure left in building
db "INSERT INTO entries (key, runtime, tree_path, state, last_used_ms) VALUES ('$bk', 'codex', NULL, 0, $(now_ms))"
mkdir -p "$MOLCACHE_HOME/tmp/$nk.999999" && touch -d '2 hours ago' "$MOLCACHE_HOME/tmp/$nk.999999"
mkdir -p "$MOLCACHE_HOME/tmp/fresh" # younger than the grace
mc gc -q || it_fail "sweep exit $?"
[ ! -e "$T/$nk" ] || it_fail "tree without a row survived"
[ "$(db "SELECT coalesce(tree_path, 'NULL') || ':' || tree_bytes FROM entries WHERE key='$fk'")" = "NULL:0" ] || it_fail "vanished tree still referenced"
[ "$(db "SELECT state FROM entries WHERE key='$bk'")" = 2 ] || it_fail "stuck building row not failed"
[ ! -e "$MOLCACHE_HOME/tmp/$nk.999999" ] || it_fail "old tmp checkout survived"
[ -e "$MOLCACHE_HOME/tmp/fresh" ] || it_fail "fresh tmp entry removed inside the grace"
db "DELETE FROM entries WHERE key IN ('$fk', '$bk')"
ok "sweep: orphan tree removed, vanished tree dereferenced, stuck build failed, old tmp removed, fresh kept"

# ---- orphan images and unused mirrors ------------------------------------------------------
mapfile -t O < <(build_n codex 1)
oi=$(img_of "${O[0]}")
db "DELETE FROM entries WHERE key='${O[0]}'"
latest codex "${K3[2]}"
# another cache root on the same engine: its images are never this root's orphans
# (another key: one key's tag name is the same in every root, and would move to that root's image)
other_tag=$(MOLCACHE_HOME=$IT_DIR/other-root mc ensure codex --build-arg OTHER=1 --network none -q) || it_fail "ensure in a second root"
other_img=$(image_id "$other_tag")
out=$(mc gc) || it_fail "gc exit $?"
grep -q "found orphan-image '$oi'" <<<"$out" || it_fail "orphan not reported: $out"
image_exists "$oi" || it_fail "orphan removed without --orphans"
mc gc --orphans -q || it_fail "gc --orphans exit $?"
! image_exists "$oi" || it_fail "--orphans left the orphan image"
image_exists "$other_img" || it_fail "--orphans removed another root's image"
MOLCACHE_HOME=$IT_DIR/other-root mc gc --max-age 0s --include-latest -q || it_fail "gc of the second root"
! image_exists "$other_img" || it_fail "the second root's gc left its image"
# the claude-code mirror: no row uses it once its entries are gone
db "DELETE FROM entries WHERE runtime='claude-code'"
mirror=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())' "${MOLCACHE_REPO_PREFIX}claude-code").git
[ -d "$MOLCACHE_HOME/repos/$mirror" ] || it_fail "mirror name: $mirror not in $(ls "$MOLCACHE_HOME/repos")"
mc gc --prune-mirrors --grace 0s -q || it_fail "gc --prune-mirrors exit $?"
[ ! -e "$MOLCACHE_HOME/repos/$mirror" ] || it_fail "unused mirror survived --prune-mirrors"
[ "$(ls "$MOLCACHE_HOME/repos" | wc -l)" = 1 ] || it_fail "the used codex mirror went too"
ok "orphan image reported, removed with --orphans; unused mirror pruned, used one kept"
# a mirror creation killed before its rename leaves <hex>.git.tmp: debris, swept without --prune-mirrors
used=$(ls "$MOLCACHE_HOME/repos")
mkdir -p "$MOLCACHE_HOME/repos/$used.tmp/objects" "$MOLCACHE_HOME/repos/$mirror.tmp"
mc gc --grace 1h -q || it_fail "gc exit $?"
[ -d "$MOLCACHE_HOME/repos/$used.tmp" ] || it_fail "a fresh .git.tmp (maybe in creation) was swept inside the grace period"
out=$(mc gc --grace 0s) || it_fail "gc exit $?"
grep -q "mirror-tmp" <<<"$out" || it_fail "the .git.tmp sweep is not reported: $out"
[ "$(ls "$MOLCACHE_HOME/repos")" = "$used" ] || it_fail "after the sweep repos/ holds: $(ls "$MOLCACHE_HOME/repos")"
ok "crashed mirror creations (.git.tmp) swept after the grace period, the mirror kept"

# ---- gc during an in-flight ensure -------------------------------------------------------------
w=$IT_DIR/work/codex
echo 'RUN sleep 5' >> "$w/Dockerfile"
git -C "$w" commit -qam slow && git -C "$w" push -q origin main
mc ensure codex --network none -q > "$IT_DIR/slow.tag" 2>"$IT_DIR/slow.err" &
epid=$!
for _ in $(seq 1 100); do [ -n "$(db "SELECT key FROM entries WHERE state=0")" ] && break; sleep 0.1; done
sk=$(db "SELECT key FROM entries WHERE state=0")
[ -n "$sk" ] || it_fail "slow build never started"
for _ in $(seq 1 50); do [ -d "$T/$sk" ] && break; sleep 0.1; done
mc gc --max-age 0s --include-latest --max-size 0 --orphans --grace 0s -q || it_fail "gc during ensure exit $?"
[ -d "$T/$sk" ] || it_fail "gc removed the in-flight tree"
wait $epid || it_fail "ensure failed under gc: $(cat "$IT_DIR/slow.err")"
kept "$sk"
image_exists "$(cat "$IT_DIR/slow.tag")" || it_fail "in-flight image missing"
ok "gc during an in-flight ensure leaves its tree and image; the ensure succeeds"

# ---- --max-runtime: the budget stops the evictions ----------------------------------------------
mc gc --max-age 0s --include-latest --max-runtime 1ms --json > "$IT_DIR/budget.json" || it_fail "budget gc exit $?"
python3 - "$IT_DIR/budget.json" <<'PY' || it_fail "budget: $(cat "$IT_DIR/budget.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["budget_exhausted"] and r["evicted"] == 0 and r["plan"], r
assert all(p["outcome"] == "skipped-budget" for p in r["plan"])
PY
kept "$sk"
ok "--max-runtime 1ms: the plan is reported as skipped-budget, nothing evicted"

# ---- everything else goes with --include-latest -------------------------------------------------
mc gc --max-age 0s --include-latest -q || it_fail "final gc exit $?"
[ "$(db 'SELECT count(*) FROM entries')" = 0 ] || it_fail "rows left: $(keys)"
[ -z "$(ls "$T")" ] || it_fail "trees left: $(ls "$T")"
root_id=$(db "SELECT value FROM meta WHERE name='root-id'")
[ ${#root_id} = 32 ] || it_fail "root id '$root_id' is not 32 hex digits"
n=$(engine_get "/images/json?filters=$(urlenc "{\"label\":[\"molcache.root=$root_id\"]}")" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 0 ] || it_fail "$n molcache images left"
image_exists "$MC_BASE_IMAGE" || it_fail "the base image went too"
db 'PRAGMA integrity_check' | grep -qx ok || it_fail "integrity"
ok "--include-latest empties the cache; the base image stays"
