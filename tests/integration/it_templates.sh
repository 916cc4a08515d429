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
