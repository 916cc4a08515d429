# it_gc_trust.sh — gc takes only what is its own, against a real dockerd: a user's
# tag on a cached image survives eviction and the orphan sweep (whichever way the
# tags sort); a root reached through a symlink or `..` is still the same root; a
# repeated gc asks the engine about no image it already knows; rows whose image
# was removed behind molcache's back are dropped and stop counting in status.
. "$(dirname "$0")/lib.sh"
it_setup

db() { sqlite3 "$MOLCACHE_HOME/index.db" "$@"; }
img_of() { db "SELECT image_id FROM entries WHERE key='$1'"; }
tag_of() { db "SELECT image_tag FROM entries WHERE key='$1'"; }
# build RUNTIME: one new commit, one ensure; prints the new entry's key
build() {
	commit "$1" f.txt "$1 $RANDOM $RANDOM" >/dev/null
	mc ensure "$1" --network none -q >/dev/null || it_fail "ensure $1"
	db "SELECT key FROM entries WHERE runtime='$1' ORDER BY created_ms DESC LIMIT 1"
}
# user_tag IMAGE REPO TAG: `docker tag IMAGE REPO:TAG` through the engine API
user_tag() {
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$(engine_sock)" -X POST \
		"http://d/images/$1/tag?repo=$(urlenc "$2")&tag=$3")
	[ "$code" = 201 ] || it_fail "tagging $1 as $2:$3: HTTP $code"
}
json() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); $2" "$1"; }

mkrepo codex "$(simple_template codex)"

# ---- 1. a user's tag is never deleted -----------------------------------------------
# myapp:prod sorts after molcache/…, aaa/app:prod before it: neither may change the outcome
for user in myapp:prod aaa/app:prod; do
	k=$(build codex)
	latest_k=$(build codex) # k is not :latest: an age policy may take it
	img=$(img_of "$k")
	mtag=$(tag_of "$k")
	user_tag "$img" "${user%:*}" "${user#*:}"
	db "UPDATE entries SET last_used_ms = 0 WHERE key='$k'"
	mc gc --max-age 1d --json >"$IT_DIR/gc1.json" || it_fail "gc with a user's tag ($user): exit $?, want 0"
	json "$IT_DIR/gc1.json" "
p = [p for p in r['plan'] if p['key'] == '$k']
assert len(p) == 1 and p[0]['outcome'] == 'done', r['plan']
assert p[0]['note'] == 'kept: also tagged $user', p[0]
assert p[0]['bytes_freed'] == p[0]['tree_bytes'], p[0]
assert r['errors'] == 0, r" || it_fail "report ($user): $(cat "$IT_DIR/gc1.json")"
	[ -z "$(db "SELECT key FROM entries WHERE key='$k'")" ] || it_fail "row of $k stayed ($user)"
	[ "$(image_id "$user")" = "$img" ] || it_fail "$user no longer names the image"
	! image_exists "$mtag" || it_fail "molcache's own tag $mtag stayed ($user)"
	out=$(mc gc) || it_fail "gc after ($user): exit $?"
	grep -q "found orphan-image '$img'" <<<"$out" && it_fail "a user's image is reported as an orphan: $out"
	engine_req DELETE "/images/$(urlenc "$user")" >/dev/null
	ok "eviction with the user's tag $user: row gone, $user and the image stay, molcache's tag gone, noted, exit 0"
done

# the orphan sweep: a labelled image whose row is gone, with a user's tag too
k=$(build codex)
latest_k=$(build codex)
img=$(img_of "$k")
mtag=$(tag_of "$k")
user_tag "$img" aaa/app prod
db "DELETE FROM entries WHERE key='$k'"
mc gc --orphans --json >"$IT_DIR/orph.json" || it_fail "gc --orphans with a user's tag: exit $?, want 0"
json "$IT_DIR/orph.json" "
s = [s for s in r['stale'] if s['kind'] == 'orphan-image' and s['what'] == '$img']
assert len(s) == 1 and not s[0]['done'] and s[0]['note'] == 'kept: also tagged aaa/app:prod', r['stale']
assert r['errors'] == 0, r" || it_fail "orphan report: $(cat "$IT_DIR/orph.json")"
[ "$(image_id aaa/app:prod)" = "$img" ] || it_fail "--orphans took the user's tag"
! image_exists "$mtag" || it_fail "--orphans left molcache's tag $mtag"
engine_req DELETE "/images/aaa%2Fapp:prod" >/dev/null
ok "--orphans: a user's tag keeps the image, only molcache's tag goes, noted, exit 0"

# ---- 2. one root, many paths ------------------------------------------------------------
real=$MOLCACHE_HOME
ln -s "$real" "$IT_DIR/link"
mkdir -p "$IT_DIR/sub"
dotdot=$IT_DIR/sub/../cache
k1=$(MOLCACHE_HOME=$IT_DIR/link build codex) # built through the symlink
k2=$(build codex)                             # through the real path
i1=$(img_of "$k1")
db "UPDATE entries SET last_used_ms = 0 WHERE key='$k1'"
MOLCACHE_HOME=$dotdot mc gc --dry-run --json >"$IT_DIR/dd.json" || it_fail "gc through .. exit $?"
json "$IT_DIR/dd.json" "
assert not [s for s in r['stale'] if s['kind'] == 'orphan-image'], r['stale']" ||
	it_fail "through '..' gc misreports orphans: $(cat "$IT_DIR/dd.json")"
MOLCACHE_HOME=$IT_DIR/link mc gc --max-age 1d --json >"$IT_DIR/ln.json" || it_fail "gc through the symlink exit $?"
json "$IT_DIR/ln.json" "
p = [p for p in r['plan'] if p['key'] == '$k1']
assert len(p) == 1 and p[0]['outcome'] == 'done' and p[0]['note'] is None, r['plan']
assert r['errors'] == 0" || it_fail "gc through the symlink: $(cat "$IT_DIR/ln.json")"
! image_exists "$i1" || it_fail "gc through the symlink left (leaked) the image of $k1"
[ -z "$(db "SELECT key FROM entries WHERE key='$k1'")" ] || it_fail "row of $k1 stayed"
root_id=$(db "SELECT value FROM meta WHERE name='root-id'")
n_img=$(engine_get "/images/json?filters=$(urlenc "{\"label\":[\"molcache.root=$root_id\"]}")" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
n_rows=$(db "SELECT count(DISTINCT image_id) FROM entries WHERE image_id IS NOT NULL")
[ "$n_img" = "$n_rows" ] || it_fail "$n_img images carry this root's id, $n_rows rows have images"
MOLCACHE_HOME=$dotdot mc gc --max-age 1d --include-latest --json >"$IT_DIR/dd2.json" || it_fail "gc through .. exit $?"
json "$IT_DIR/dd2.json" "
assert not [s for s in r['stale'] if s['kind'] == 'orphan-image'], r['stale']" || it_fail "gc through ..: $(cat "$IT_DIR/dd2.json")"
ok "a root reached through a symlink and through '..' keeps its images its own: evicted, none leaked, no orphan reported"

# ---- 3. layer facts: remembered by image id, asked only once -------------------------------
k3=$(build codex)
k4=$(build codex)
db "INSERT INTO image_layers (image_id, layers) VALUES ('sha256:$(printf 'd%.0s' $(seq 64))', '[[\"sha256:x\",1]]')"
lookups() { mc gc "$@" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["layer_lookups"])'; }
n=$(lookups --max-size 1T)
[ "$n" -ge 3 ] || it_fail "first size run asked about $n images (the base and two row images at least)"
[ "$(db "SELECT count(*) FROM image_layers WHERE image_id LIKE 'sha256:dddd%'")" = 0 ] ||
	it_fail "the layers of an image the engine does not hold were kept"
[ "$(db "SELECT count(*) FROM image_layers WHERE image_id='$(img_of "$k3")'")" = 1 ] || it_fail "layers of $k3 not remembered"
[ "$(lookups --max-size 1T)" = 0 ] || it_fail "a repeated size run asked the engine again"
[ "$(lookups --max-size 1T --dry-run)" = 0 ] || it_fail "a dry run asked the engine again"
[ "$(lookups)" = 0 ] || it_fail "a run with no policy asked about layers"
[ "$(lookups --max-age 30d --keep 1)" = 0 ] || it_fail "a run with no size policy asked about layers"
k5=$(build codex)
[ "$(lookups --max-size 1T)" -ge 1 ] || it_fail "a new image cost no lookup"
[ "$(db "SELECT count(*) FROM image_layers WHERE image_id='$(img_of "$k5")'")" = 1 ] || it_fail "layers of $k5 not remembered"
[ "$(lookups --max-size 1T)" = 0 ] || it_fail "a repeated size run asked the engine again"
ok "layers asked once per image id (first run: $n), 0 on repeats and without a size policy; stale ids forgotten"

# ---- 9. rows whose image vanished -------------------------------------------------------------
ka=$(build codex)
kb=$(build codex) # :latest
ia=$(img_of "$ka")
bytes() { mc status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes"]["images"])'; }
ba=$(db "SELECT image_bytes FROM entries WHERE key='$ka'")
before=$(bytes)
engine_req DELETE "/images/$ia?force=1" >/dev/null
! image_exists "$ia" || it_fail "could not remove $ia behind molcache's back"
# held key lock: left alone
flock "$MOLCACHE_HOME/locks/$ka.lock" sleep 3 &
lockpid=$!
sleep 0.3
mc gc -q || it_fail "gc with the key lock held: exit $?"
wait $lockpid
[ "$(db "SELECT state FROM entries WHERE key='$ka'")" = 1 ] || it_fail "a locked row was dropped"
mc gc --dry-run --json >"$IT_DIR/gone-dry.json" || it_fail "dry run exit $?"
json "$IT_DIR/gone-dry.json" "
s = [s for s in r['stale'] if s['kind'] == 'image-gone']
assert [x['what'] for x in s] == ['$ka'] and not s[0]['done'], r['stale']
assert '$ka' not in [p['key'] for p in r['plan']]" || it_fail "dry run: $(cat "$IT_DIR/gone-dry.json")"
[ "$(db "SELECT state FROM entries WHERE key='$ka'")" = 1 ] || it_fail "a dry run dropped the row"
mc gc --json >"$IT_DIR/gone.json" || it_fail "gc exit $?"
json "$IT_DIR/gone.json" "
s = [s for s in r['stale'] if s['kind'] == 'image-gone']
assert [x['what'] for x in s] == ['$ka'] and s[0]['done'], r['stale']
assert r['errors'] == 0" || it_fail "gc: $(cat "$IT_DIR/gone.json")"
[ -z "$(db "SELECT key FROM entries WHERE key='$ka'")" ] || it_fail "the row of a vanished image stayed"
[ ! -e "$MOLCACHE_HOME/trees/$ka" ] || it_fail "the tree of the dropped row stayed"
[ "$(bytes)" = $((before - ba)) ] || it_fail "status image bytes $(bytes), want $((before - ba))"
[ "$(db "SELECT state FROM entries WHERE key='$kb'")" = 1 ] || it_fail "the latest row went too"
tag=$(mc ensure codex --network none -q) && image_exists "$tag" || it_fail "ensure after the sweep"
ok "a row whose image vanished: left alone under its key lock, reported by a dry run, dropped by gc (image-gone), status bytes corrected"

db 'PRAGMA integrity_check' | grep -qx ok || it_fail "integrity"
