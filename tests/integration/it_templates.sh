# it_templates.sh — ordinary templates that docker builds, molcache builds the
# same way: a submodule (gitlink) is an empty directory in the context.
. "$(dirname "$0")/lib.sh"
it_setup

# ---- a submodule -----------------------------------------------------------------------------
src=$(simple_template codex)
cat >>"$src/Dockerfile" <<'DF'
RUN test -d /ctx/vendor/mod && test -z "$(ls -A /ctx/vendor/mod)" && echo submodule-empty > /sub.txt
DF
mkrepo codex "$src"
w=$IT_DIR/work/codex
git -C "$w" update-index --add --cacheinfo 160000,0123456789abcdef0123456789abcdef01234567,vendor/mod
git -C "$w" commit -qm "a submodule" && git -C "$w" push -q origin main
rc=0
tag=$(mc ensure codex --network none 2>"$IT_DIR/err") || rc=$?
[ $rc = 0 ] || { cat "$IT_DIR/err"; it_fail "a template with a submodule: exit $rc"; }
image_exists "$tag" || it_fail "no image"
ok "a template with a submodule builds; the submodule is an empty directory in the context"

# ---- a bare repo named X.git, reached as file://…/X and as a plain path ------------------------
mv "$GITROOT/workspace-template-codex" "$GITROOT/workspace-template-codex.git"
for prefix in "file://$GITROOT/workspace-template-" "$GITROOT/workspace-template-"; do
	rc=0
	t2=$(MOLCACHE_REPO_PREFIX=$prefix mc ensure codex --network none 2>"$IT_DIR/err") || rc=$?
	[ $rc = 0 ] || { cat "$IT_DIR/err"; it_fail "prefix '$prefix' on a bare repo named X.git: exit $rc"; }
done
mv "$GITROOT/workspace-template-codex.git" "$GITROOT/workspace-template-codex"
ok "<prefix><runtime> resolves as git does: the path, then the path with .git appended"

# ---- --dockerfile spelled as docker accepts it ----------------------------------------------------
for df in ./Dockerfile .//Dockerfile Dockerfile/ lib/../Dockerfile; do
	rc=0
	t2=$(mc ensure codex --network none --dockerfile "$df" 2>"$IT_DIR/err") || rc=$?
	[ $rc = 0 ] || { cat "$IT_DIR/err"; it_fail "--dockerfile $df: exit $rc"; }
	[ "$t2" = "$tag" ] || it_fail "--dockerfile $df gave $t2, want the same key as Dockerfile ($tag)"
done
rc=0; mc ensure codex --dockerfile ../Dockerfile 2>/dev/null || rc=$?
[ $rc = 2 ] || it_fail "--dockerfile ../Dockerfile: exit $rc, want 2"
ok "--dockerfile ./Dockerfile, .//Dockerfile, Dockerfile/ and lib/../Dockerfile are Dockerfile; ../Dockerfile exits 2"

# ---- an allow-list .dockerignore excludes the Dockerfile and itself: docker drops both ---------
d=$IT_DIR/src-allow; mkdir -p "$d/src" "$d/docs"
printf '*\n!src\n' >"$d/.dockerignore"
echo app >"$d/src/app.txt"; echo doc >"$d/docs/readme.txt"
cat >"$d/Dockerfile" <<DF
FROM $MC_BASE_IMAGE
COPY . /ctx
RUN test -f /ctx/src/app.txt && test ! -e /ctx/docs && test ! -e /ctx/Dockerfile && test ! -e /ctx/.dockerignore
DF
mkrepo crewai "$d"
rc=0; tag=$(mc ensure crewai --network none 2>"$IT_DIR/err") || rc=$?
[ $rc = 0 ] || { cat "$IT_DIR/err"; it_fail "allow-list .dockerignore: exit $rc (the Dockerfile or .dockerignore reached COPY)"; }
# … and a Dockerfile in an excluded directory, named by --dockerfile
d=$IT_DIR/src-allow2; mkdir -p "$d/src" "$d/ci"
printf '*\n!src\n' >"$d/.dockerignore"
echo app >"$d/src/app.txt"
cat >"$d/ci/Dockerfile" <<DF
FROM $MC_BASE_IMAGE
COPY . /ctx
RUN test -f /ctx/src/app.txt && test ! -e /ctx/ci/Dockerfile && test ! -e /ctx/.dockerignore
DF
mkrepo deepagents "$d"
rc=0; tag=$(mc ensure deepagents --network none --dockerfile ci/Dockerfile 2>"$IT_DIR/err") || rc=$?
[ $rc = 0 ] || { cat "$IT_DIR/err"; it_fail "--dockerfile ci/Dockerfile under an allow-list: exit $rc"; }
ok "excluded by .dockerignore, the Dockerfile (also in an excluded directory) and .dockerignore are read but not in the context COPY sees"
