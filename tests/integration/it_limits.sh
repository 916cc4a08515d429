# it_limits.sh — path limits (done and moved out: event encoding, item 9,
# it_events_utf8.sh; build args, it_build_arg_limits.sh; mirrors, item 7,
# it_prune_mirrors.sh):
#  - a template path over PATH_MAX: exit 5 "path too long", naming the path;
. "$(dirname "$0")/../integration/lib.sh"
it_setup

# ---- a template path over PATH_MAX --------------------------------------------------------------
src=$IT_DIR/src-long
mkdir -p "$src"
printf 'FROM %s\nCOPY . /ctx\n' "$MC_BASE_IMAGE" >"$src/Dockerfile"
w=$IT_DIR/work/gemini-cli
mkdir -p "$w" && cp -a "$src/." "$w/"
git -C "$w" init -q -b main
# a path of 40 directories of 120 characters (4.8 KB) made in git's index directly
blob=$(echo deep | git -C "$w" hash-object -w --stdin)
long=$(for i in $(seq 1 40); do printf 'd%03d%0116d/' "$i" 0; done)f.txt
git -C "$w" update-index --add --cacheinfo "100644,$blob,$long"
git -C "$w" add Dockerfile && git -C "$w" commit -qm long
git clone -q --bare "$w" "$GITROOT/workspace-template-gemini-cli"
rc=0
mc ensure gemini-cli --network none >/dev/null 2>"$IT_DIR/long.err" || rc=$?
[ $rc = 5 ] || { cat "$IT_DIR/long.err"; it_fail "a path over PATH_MAX: exit $rc, want 5"; }
grep -q "^molcache: .*path too long" "$IT_DIR/long.err" || { cat "$IT_DIR/long.err"; it_fail "no 'path too long'"; }
grep -q "d001" "$IT_DIR/long.err" || it_fail "the message does not name the path in the template"
[ -z "$(ls -A "$MOLCACHE_HOME/tmp")" ] || it_fail "tmp/ left after the long path"
ok "a path over PATH_MAX: exit 5, '$(grep '^molcache: ' "$IT_DIR/long.err" | head -1 | cut -c1-120)…'"
