# it_ensure.sh — the ensure pipeline over file://: cold build, hit, new commit,
# incremental fetch, self-heal after `image rm`, :latest alias, .runtime-version.
. "$(dirname "$0")/lib.sh"
it_setup

src=$(simple_template claude-code)
for i in $(seq 1 150); do echo "file $i" > "$src/f$i.txt"; done
echo "1.2.3" > "$src/.runtime-version"
cat >> "$src/Dockerfile" <<'DF'
ARG RUNTIME_VERSION
LABEL runtime-version=$RUNTIME_VERSION
DF
mkrepo claude-code "$src"

# cold: one fetch, one build, a RUN step under BuildKit
tag1=$(mc ensure claude-code --network none 2>"$IT_DIR/err1") || { cat "$IT_DIR/err1"; it_fail "cold ensure"; }
[[ $tag1 == molcache/claude-code:* ]] || it_fail "tag shape: $tag1"
image_exists "$tag1" || it_fail "image $tag1 not in the engine"
[ "$(counter builds)" = 1 ] && [ "$(counter misses)" = 1 ] && [ "$(counter fetches)" = 1 ] || it_fail "cold counters"
[ "$(image_label "$tag1" runtime-version)" = 1.2.3 ] || it_fail ".runtime-version did not reach RUNTIME_VERSION"
[ "$(image_label "$tag1" molcache.runtime)" = claude-code ] || it_fail "label molcache.runtime"
[ "$(image_id molcache/claude-code:latest)" = "$(image_id "$tag1")" ] || it_fail ":latest alias"
grep -q "build" "$IT_DIR/err1" || it_fail "no progress on stderr"
ok "cold ensure builds $tag1"

# hit: same tag, nothing fetched, nothing built
objs1=$(counter fetched_objects)
tag2=$(mc ensure claude-code --network none 2>/dev/null)
[ "$tag2" = "$tag1" ] || it_fail "hit gave $tag2, want $tag1"
[ "$(counter builds)" = 1 ] && [ "$(counter fetches)" = 1 ] && [ "$(counter hits)" = 1 ] || it_fail "hit counters: builds=$(counter builds) fetches=$(counter fetches) hits=$(counter hits)"
LD_DEBUG=files mc ensure claude-code --network none >/dev/null 2>"$IT_DIR/ld-hit"
! grep -q 'file=libarchive' "$IT_DIR/ld-hit" || it_fail "a hit loaded libarchive"
grep -q 'file=libcurl' "$IT_DIR/ld-hit" || it_fail "LD_DEBUG=files shows no libraries: the check above proves nothing"
ok "hit prints the same tag, fetches nothing, builds nothing, loads no libarchive"

# :latest already on the image: a hit sends no tag request (the engine's event
# log shows none); :latest removed, or moved to another image, is put back
tag_events() { # tag_events SINCE: the engine's image tag events since then (since in ns: the build tagged this same second)
	sleep 1
	engine_get "/events?since=$1&until=$(date +%s)&filters=$(urlenc '{"type":["image"],"event":["tag"]}')"
}
since=$(date +%s.%N); mc ensure claude-code --network none >/dev/null 2>&1
[ -z "$(tag_events "$since")" ] || it_fail "a hit with :latest in place still tagged: $(tag_events "$since")"
engine_req DELETE "/images/molcache/claude-code:latest" >/dev/null
since=$(date +%s.%N); mc ensure claude-code --network none >/dev/null 2>&1
[ -n "$(tag_events "$since")" ] || it_fail "no tag event when :latest was missing"
[ "$(image_id molcache/claude-code:latest)" = "$(image_id "$tag1")" ] || it_fail ":latest not restored"
engine_req POST "/images/$(urlenc "$MC_BASE_IMAGE")/tag?repo=molcache/claude-code&tag=latest" >/dev/null
mc ensure claude-code --network none >/dev/null 2>&1
[ "$(image_id molcache/claude-code:latest)" = "$(image_id "$tag1")" ] || it_fail ":latest moved elsewhere was not put back"
ok "a hit with :latest in place sends no tag request; a removed or moved :latest is put back"

# a new commit: new key and tag, an incremental fetch
commit claude-code f7.txt "changed"
tag3=$(mc ensure claude-code --network none 2>/dev/null)
[ "$tag3" != "$tag1" ] || it_fail "new commit kept the tag"
[ "$(counter builds)" = 2 ] && [ "$(counter fetches)" = 2 ] || it_fail "new commit counters"
delta=$(( $(counter fetched_objects) - objs1 ))
[ "$delta" -gt 0 ] && [ "$delta" -lt 10 ] || it_fail "incremental fetch received $delta objects (first fetch: $objs1)"
[ "$(image_id molcache/claude-code:latest)" = "$(image_id "$tag3")" ] || it_fail ":latest did not follow"
ok "new commit: new tag $tag3, incremental fetch of $delta objects (first: $objs1)"

# only the tag removed: retagged from the image id, no build
engine_req DELETE "/images/$tag3" >/dev/null
image_exists "$tag3" && it_fail "tag still there after untag"
[ "$(mc ensure claude-code --network none 2>/dev/null)" = "$tag3" ] || it_fail "retag after untag"
[ "$(counter builds)" = 2 ] || it_fail "an untag caused a build"
ok "a removed tag is restored from the image id without a build"

# the image removed behind molcache's back: rebuilt, same tag
engine_req DELETE "/images/$(image_id "$tag3")?force=1" >/dev/null
image_exists "$tag3" && it_fail "image still there after DELETE"
tag4=$(mc ensure claude-code --network none 2>/dev/null)
[ "$tag4" = "$tag3" ] || it_fail "rebuild gave $tag4"
image_exists "$tag4" || it_fail "rebuilt image missing"
[ "$(counter builds)" = 3 ] && [ "$(counter fetches)" = 2 ] || it_fail "self-heal counters: builds=$(counter builds) fetches=$(counter fetches)"
ok "image removed behind molcache's back is rebuilt (no fetch)"

# --ref: a branch and a full sha select other commits
git -C "$IT_DIR/work/claude-code" checkout -q -b other
commit claude-code other.txt "on other"
git -C "$IT_DIR/work/claude-code" push -q origin other
tag5=$(mc ensure claude-code --ref other --network none 2>/dev/null)
[ "$tag5" != "$tag4" ] || it_fail "--ref other gave the main tag"
sha_main=$(git -C "$GITROOT/workspace-template-claude-code" rev-parse main)
tag6=$(mc ensure claude-code --ref "$sha_main" --network none 2>/dev/null)
[ "$tag6" = "$tag4" ] || it_fail "--ref <sha of main> gave $tag6, want $tag4"
ok "--ref selects a branch or a commit"

# the index is sound
[ "$(sqlite3 "$MOLCACHE_HOME/index.db" 'PRAGMA integrity_check')" = ok ] || it_fail "integrity_check"
[ "$(stat -c %a "$MOLCACHE_HOME")" = 700 ] || it_fail "cache root mode"
ok "index integrity ok, root mode 0700"
