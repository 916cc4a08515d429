# it_prune_mirrors.sh — issue 15 item 7: gc --prune-mirrors keeps a mirror a
# row uses, also when ensure found the repository only with git clone's ".git"
# fallback (the mirror is named after <prefix><runtime>.git), and still removes
# a mirror no row uses.
. "$(dirname "$0")/lib.sh"
it_setup

src=$(simple_template hermes)
mkrepo hermes "$src"
mv "$GITROOT/workspace-template-hermes" "$GITROOT/workspace-template-hermes.git"
mc ensure hermes --network none -q >/dev/null 2>"$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "ensure through the .git fallback"; }
before=$(ls "$MOLCACHE_HOME/repos")
[ -n "$before" ] || it_fail "no mirror"
mkdir -p "$MOLCACHE_HOME/repos/$(printf '%064d' 9).git" # a mirror no row uses
mc gc --prune-mirrors --grace 0 >"$IT_DIR/gc.out" 2>&1 || { cat "$IT_DIR/gc.out"; it_fail "gc --prune-mirrors"; }
[ "$(ls "$MOLCACHE_HOME/repos")" = "$before" ] || { cat "$IT_DIR/gc.out"; it_fail "mirrors after prune: $(ls "$MOLCACHE_HOME/repos"), want $before"; }
grep -q "removed mirror .*$(printf '%064d' 9)" "$IT_DIR/gc.out" || { cat "$IT_DIR/gc.out"; it_fail "the unused mirror was not removed"; }
commit hermes new.txt "after gc"
mc ensure hermes --network none -q >/dev/null 2>"$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "ensure after prune"; }
ok "gc --prune-mirrors keeps the mirror of a row found through the .git fallback and removes an unused one"
