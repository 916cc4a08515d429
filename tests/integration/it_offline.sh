# it_offline.sh — `ensure --offline` serves only an entry built from the same
# inputs (all but the commit, which only the remote knows): the newest whose
# image is still there; exit 8 otherwise; no repo prefix needed; and an
# unreachable remote's hint names --offline when it would serve.
. "$(dirname "$0")/lib.sh"
it_setup

expect8() { # expect8 PATTERN -- ARGS...: exit 8, an error matching PATTERN, nothing on stdout
	local pat=$1; shift 2
	set +e; "$@" >"$IT_DIR/out" 2>"$IT_DIR/err"; local rc=$?; set -e
	[ $rc = 8 ] || { cat "$IT_DIR/out" "$IT_DIR/err"; it_fail "$*: exit $rc, want 8"; }
	grep -q "^molcache: .*$pat" "$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "$*: no error matching '$pat'"; }
	[ ! -s "$IT_DIR/out" ] || it_fail "$*: printed on stdout: $(cat "$IT_DIR/out")"
}
serves() { # serves TAG -- ARGS...: exit 0, TAG on stdout, the offline warning on stderr
	local want=$1; shift 2
	local got
	got=$("$@" 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "$*: failed"; }
	[ "$got" = "$want" ] || it_fail "$*: served '$got', want '$want'"
	grep -q "warning: offline" "$IT_DIR/err" || it_fail "$*: no offline warning"
}

src=$(simple_template claude-code)
printf 'ARG A\nRUN echo "A=$A" > /a.txt\n' >> "$src/Dockerfile"
mkrepo claude-code "$src"
w=$IT_DIR/work/claude-code

# ---- one entry, built with --build-arg A=1: only the same request gets it ----------
tag_a1=$(mc ensure claude-code --build-arg A=1 --network none 2>/dev/null)
native=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT platform FROM entries WHERE image_tag='$tag_a1'")
other=linux/arm64; [ "$native" != linux/arm64 ] || other=linux/amd64
expect8 "nothing cached to use offline for .*platform $other" -- mc ensure claude-code --offline --build-arg A=1 --platform "$other"
expect8 "nothing cached to use offline" -- mc ensure claude-code --offline --build-arg A=1 --build-arg ZZZ=9
expect8 "nothing cached to use offline" -- mc ensure claude-code --offline --build-arg ZZZ=9
expect8 "nothing cached to use offline for ref 'v9'" -- mc ensure claude-code --offline --build-arg A=1 --ref v9
expect8 "no build args (1 cached entry, the newest with another build args)" -- mc ensure claude-code --offline
expect8 "nothing cached to use offline" -- mc ensure claude-code --offline --build-arg A=2
expect8 "dockerfile 'sub/Dockerfile'" -- mc ensure claude-code --offline --build-arg A=1 --dockerfile sub/Dockerfile
expect8 "another repo prefix" -- mc ensure claude-code --offline --build-arg A=1 --repo-prefix "file://$IT_DIR/elsewhere/"
grep -q "^hint: .*molcache ls --runtime claude-code" "$IT_DIR/err" || it_fail "no hint naming 'molcache ls'"
ok "--offline refuses with exit 8 an entry built with other platform, build args, ref, dockerfile or prefix"

serves "$tag_a1" -- mc ensure claude-code --offline --build-arg A=1
serves "$tag_a1" -- mc ensure claude-code --offline --build-arg A=1 --platform "$native"
# no prefix configured: --offline matches any prefix
serves "$tag_a1" -- env -u MOLCACHE_REPO_PREFIX "$MOLCACHE" ensure claude-code --offline --build-arg A=1
set +e; env -u MOLCACHE_REPO_PREFIX "$MOLCACHE" ensure claude-code --build-arg A=1 >/dev/null 2>"$IT_DIR/err"; rc=$?; set -e
[ $rc = 2 ] && grep -q "no template repository prefix" "$IT_DIR/err" || it_fail "online without a prefix: exit $rc"
ok "--offline --build-arg A=1 serves $tag_a1 (also at the native platform named, and with no repo prefix set)"

# ---- newest match first; an image gone falls back to the next older; then exit 8 ----
tag_p1=$(mc ensure claude-code --network none 2>/dev/null)
commit claude-code f2.txt "second commit"
tag_p2=$(mc ensure claude-code --network none 2>/dev/null)
[ "$tag_p1" != "$tag_p2" ] || it_fail "a new commit kept the tag"
mc ensure claude-code --build-arg A=1 --network none >/dev/null 2>&1 # A=1 at the new commit: the newest row
tag_a1b=$(mc ensure claude-code --build-arg A=1 --network none 2>/dev/null)
# use the older plain entry last: --offline still picks the newest build, not the last used
sqlite3 "$MOLCACHE_HOME/index.db" "UPDATE entries SET last_used_ms = last_used_ms + 100000 WHERE image_tag='$tag_p1'"
serves "$tag_p2" -- mc ensure claude-code --offline
engine_req DELETE "/images/$(image_id "$tag_p2")?force=1" >/dev/null
serves "$tag_p1" -- mc ensure claude-code --offline
engine_req DELETE "/images/$(image_id "$tag_p1")?force=1" >/dev/null
expect8 "image.* of 2 matching entries are gone from the engine" -- mc ensure claude-code --offline
serves "$tag_a1b" -- mc ensure claude-code --offline --build-arg A=1
ok "--offline serves the newest match ($tag_p2), falls back to the older ($tag_p1) when its image is gone, then exit 8"

# ---- refs: the same ref as asked, or a full sha that is the entry's commit ----------
commit claude-code f3.txt "third commit"
git -C "$w" tag v1 && git -C "$w" push -q origin v1
sha_v1=$(git -C "$w" rev-parse HEAD)
tag_v1=$(mc ensure claude-code --ref v1 --network none 2>/dev/null)
serves "$tag_v1" -- mc ensure claude-code --offline --ref v1
serves "$tag_v1" -- mc ensure claude-code --offline --ref "$sha_v1"
expect8 "ref 'v9'" -- mc ensure claude-code --offline --ref v9
# an entry matches the ref it was built for: the default branch's request does not take it
expect8 "the default branch" -- mc ensure claude-code --offline
ok "--offline --ref v1 and --ref <its sha> serve $tag_v1; --ref v9 exits 8"

# ---- the remote gone: the hint names --offline when it would serve ------------------
mv "$GITROOT/workspace-template-claude-code" "$GITROOT/gone.git"
set +e; mc ensure claude-code --build-arg A=1 --network none >/dev/null 2>"$IT_DIR/err"; rc=$?; set -e
[ $rc = 3 ] || { cat "$IT_DIR/err"; it_fail "remote gone: exit $rc, want 3"; }
grep -q "^hint: .*--offline.*$tag_a1b" "$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "the hint does not name --offline and $tag_a1b"; }
set +e; mc ensure claude-code --build-arg B=2 --network none >/dev/null 2>"$IT_DIR/err2"; rc=$?; set -e
[ $rc = 3 ] || it_fail "remote gone (B=2): exit $rc, want 3"
! grep -q -- "--offline" "$IT_DIR/err2" || { cat "$IT_DIR/err2"; it_fail "the hint names --offline though nothing matches"; }
ok "remote unreachable: exit 3, $(grep '^hint:' "$IT_DIR/err" | head -1)"
