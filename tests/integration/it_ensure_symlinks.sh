# it_ensure_symlinks.sh — files molcache itself reads from a template
# (.runtime-version, the Dockerfile, .dockerignore) come from the commit, never
# through a symlink to the host. .runtime-version must be a regular file; the
# Dockerfile and .dockerignore may link inside the tree (followed, as docker
# does); a link out of the tree is refused with exit 5 naming the template, the
# commit and the path, and the host file's bytes reach nothing.
. "$(dirname "$0")/lib.sh"
it_setup

secret=HOSTSECRET-$RANDOM$RANDOM
printf '%s\n' "$secret" > "$IT_DIR/host-file"

expect5() { # expect5 RUNTIME FILE: ensure exits 5 naming the template, its commit and FILE
	local rt=$1 file=$2 sha rc
	sha=$(git -C "$IT_DIR/work/$rt" rev-parse HEAD)
	set +e; mc ensure "$rt" --network none >"$IT_DIR/out" 2>"$IT_DIR/err"; rc=$?; set -e
	[ $rc = 5 ] || { cat "$IT_DIR/err"; it_fail "$rt: exit $rc, want 5"; }
	grep -q "^molcache: template '.*workspace-template-$rt' at ${sha:0:12}: .*'$file'.*symbolic link" "$IT_DIR/err" ||
		{ cat "$IT_DIR/err"; it_fail "$rt: the error does not name the template, commit ${sha:0:12} and '$file'"; }
	[ ! -s "$IT_DIR/out" ] || it_fail "$rt: printed on stdout"
	! grep -rqs "$secret" "$IT_DIR/err" "$MOLCACHE_HOME/logs" || it_fail "$rt: the host file's content was read"
}

# ---- .runtime-version -> a host file ------------------------------------------------
src=$(simple_template codex)
printf 'ARG RUNTIME_VERSION\nLABEL runtime-version=$RUNTIME_VERSION\nRUN echo "rv=$RUNTIME_VERSION"\n' >> "$src/Dockerfile"
ln -s "$IT_DIR/host-file" "$src/.runtime-version"
mkrepo codex "$src"
expect5 codex .runtime-version
ok ".runtime-version symlinked to a host file: $(grep "^molcache: template" "$IT_DIR/err")"

# ---- an in-tree .runtime-version symlink is refused too (only molcache reads it) ----
commit codex version.txt "2.0.0"
rm "$IT_DIR/work/codex/.runtime-version"; ln -s version.txt "$IT_DIR/work/codex/.runtime-version"
git -C "$IT_DIR/work/codex" add -A && git -C "$IT_DIR/work/codex" commit -qm "in-tree link" && git -C "$IT_DIR/work/codex" push -q origin main
expect5 codex .runtime-version
ok "an in-tree .runtime-version symlink: exit 5"

# ---- made a regular file: the build runs and RUNTIME_VERSION is its first line ------
rm "$IT_DIR/work/codex/.runtime-version"; printf '3.1.4  \nsecond line\n' > "$IT_DIR/work/codex/.runtime-version"
git -C "$IT_DIR/work/codex" add -A && git -C "$IT_DIR/work/codex" commit -qm "regular file" && git -C "$IT_DIR/work/codex" push -q origin main
tag=$(mc ensure codex --network none 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "regular .runtime-version"; }
[ "$(image_label "$tag" runtime-version)" = 3.1.4 ] || it_fail "RUNTIME_VERSION is '$(image_label "$tag" runtime-version)', want 3.1.4"
ok "a regular .runtime-version still reaches RUNTIME_VERSION (3.1.4)"

# the checkout on disk is never read: swap the tree's file for a host link after
# the tree exists, rebuild the same key (its image removed), the commit's bytes win
tree=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT tree_path FROM entries WHERE image_tag='$tag'")
rm "$tree/.runtime-version"; ln -s "$IT_DIR/host-file" "$tree/.runtime-version"
engine_req DELETE "/images/$(image_id "$tag")?force=1" >/dev/null
tag2=$(mc ensure codex --network none 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "rebuild over a tampered tree"; }
[ "$tag2" = "$tag" ] || it_fail "rebuild changed the tag"
[ "$(image_label "$tag" runtime-version)" = 3.1.4 ] || it_fail "the tampered tree's link was read: '$(image_label "$tag" runtime-version)'"
ok "a .runtime-version link planted in trees/<key> is not read: the commit's 3.1.4 is used"

# ---- the Dockerfile and .dockerignore as symlinks: followed inside the tree, as docker does ----
src=$(simple_template autogen)
mkdir -p "$src/build"
{ cat "$src/Dockerfile"; echo 'RUN echo from-prod > /which.txt'; } >"$src/build/Dockerfile.prod"
rm "$src/Dockerfile"; ln -s build/Dockerfile.prod "$src/Dockerfile"
mkdir -p "$src/rules"; printf 'secret.txt\n' >"$src/rules/ignore"; ln -s rules/ignore "$src/.dockerignore"
echo s >"$src/secret.txt"; echo k >"$src/keep.txt"
printf '%s\n' "$(cat "$src/build/Dockerfile.prod")" 'RUN test -f /ctx/keep.txt && test ! -e /ctx/secret.txt' >"$src/build/Dockerfile.prod"
mkrepo autogen "$src"
tag=$(mc ensure autogen --network none 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "in-tree symlinked Dockerfile and .dockerignore"; }
image_exists "$tag" || it_fail "no image"
ok "Dockerfile -> build/Dockerfile.prod and .dockerignore -> rules/ignore are followed (the ignore rules applied)"

# … the key follows the content used: a change behind the link is a new key
w=$IT_DIR/work/autogen
echo 'RUN true' >>"$w/build/Dockerfile.prod"
git -C "$w" commit -qam "prod changed" && git -C "$w" push -q origin main
k1=$(mc explain autogen --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["inputs"]["dockerfile_hash"])' 2>/dev/null || true)
[ "$k1" = "$(git -C "$w" show HEAD:build/Dockerfile.prod | sha256sum | cut -d' ' -f1)" ] ||
	it_fail "the Dockerfile hash is not the hash of the file the link names ($k1)"
ok "the key's Dockerfile hash is the linked file's content"

# a link that leaves the tree: exit 5 naming the template, the commit and the path
src=$(simple_template hermes)
rm "$src/Dockerfile"; ln -s "$IT_DIR/host-file" "$src/Dockerfile"
mkrepo hermes "$src"
sha=$(git -C "$IT_DIR/work/hermes" rev-parse HEAD)
set +e; mc ensure hermes --network none >/dev/null 2>"$IT_DIR/err"; rc=$?; set -e
[ $rc = 5 ] || { cat "$IT_DIR/err"; it_fail "hermes: exit $rc, want 5"; }
grep -q "^molcache: template '.*workspace-template-hermes' at ${sha:0:12}: 'Dockerfile' .*outside the template" "$IT_DIR/err" ||
	{ cat "$IT_DIR/err"; it_fail "hermes: the error does not name template, commit and path"; }
! grep -rqs "$secret" "$IT_DIR/err" "$MOLCACHE_HOME/logs" || it_fail "hermes: the host file's content was read"
ok "a Dockerfile linked out of the tree: exit 5, $(grep "^molcache: template" "$IT_DIR/err")"

src=$(simple_template crewai)
printf '*\n' > "$IT_DIR/host-ignore"
ln -s "$IT_DIR/host-ignore" "$src/.dockerignore"
mkrepo crewai "$src"
sha=$(git -C "$IT_DIR/work/crewai" rev-parse HEAD)
set +e; mc ensure crewai --network none >/dev/null 2>"$IT_DIR/err"; rc=$?; set -e
[ $rc = 5 ] || { cat "$IT_DIR/err"; it_fail "crewai: exit $rc, want 5"; }
grep -q "^molcache: template '.*workspace-template-crewai' at ${sha:0:12}: '.dockerignore' .*outside the template" "$IT_DIR/err" ||
	{ cat "$IT_DIR/err"; it_fail "crewai: no error naming the template and '.dockerignore'"; }
ok "a .dockerignore linked out of the tree: exit 5, $(grep "^molcache: template" "$IT_DIR/err")"

# nothing was built from the refused templates
for rt in hermes crewai; do
	n=$(engine_get "/images/json?filters=$(urlenc "{\"label\":[\"molcache.runtime=$rt\"]}")" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	[ "$n" = 0 ] || it_fail "$rt: $n images built from a refused template"
done
ok "no image was built from a refused template"
