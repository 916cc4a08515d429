# it_two_roots.sh — issue 16 item 7: two cache roots on one engine share tag
# names (molcache/<rt>:<key12>, molcache/<rt>:latest). Root B's build of the
# same key re-points the key's tag at B's copy: root A's next hit serves that
# copy (same key, same inputs) instead of taking the tag back, and A's gc
# leaves the tag that now names B's image. Moving :latest away from another
# root's image warns, naming both roots.
. "$(dirname "$0")/lib.sh"
it_setup

src=$(simple_template hermes)
mkrepo hermes "$src"
A=$IT_DIR/rootA B=$IT_DIR/rootB
root_id() { sqlite3 "$1/index.db" "SELECT value FROM meta WHERE name = 'root-id'"; }

tag=$(MOLCACHE_HOME=$A mc ensure hermes --network none -q 2>"$IT_DIR/a1.err") || { cat "$IT_DIR/a1.err"; it_fail "A's ensure"; }
idA=$(image_id "$tag")
tagB=$(MOLCACHE_HOME=$B mc ensure hermes --network none 2>"$IT_DIR/b1.err") || { cat "$IT_DIR/b1.err"; it_fail "B's ensure"; }
[ "$tagB" = "$tag" ] || it_fail "the same inputs gave B $tagB, A $tag"
idB=$(image_id "$tag")
[ "$idB" != "$idA" ] || it_fail "B did not build its own copy"
rA=$(image_label "$idA" molcache.root) rB=$(image_label "$idB" molcache.root)
grep -q "^molcache: warning: molcache/hermes:latest named an image of cache root $rA; it now names one of this root ($rB)" "$IT_DIR/b1.err" ||
	{ cat "$IT_DIR/b1.err"; it_fail "B moved :latest away from A's image without a word"; }
ok "B built its own copy of A's key: the key's tag and :latest now name B's image, with a warning naming roots $rA and $rB"

t2=$(MOLCACHE_HOME=$A mc ensure hermes --network none 2>"$IT_DIR/a2.err") || { cat "$IT_DIR/a2.err"; it_fail "A's second ensure"; }
[ "$t2" = "$tag" ] || it_fail "A printed $t2"
grep -q "hit $tag" "$IT_DIR/a2.err" || { cat "$IT_DIR/a2.err"; it_fail "A's second ensure was not a hit"; }
[ "$(image_id "$tag")" = "$idB" ] || it_fail "A's hit took the key's tag back from B's image"
ok "A's hit serves the key's image B built (same key, same inputs) and leaves the tag on it"

MOLCACHE_HOME=$A mc gc --keep 0 --include-latest --grace 0 >"$IT_DIR/gc.out" 2>&1 || { cat "$IT_DIR/gc.out"; it_fail "A's gc"; }
[ "$(sqlite3 "$A/index.db" 'SELECT count(*) FROM entries')" = 0 ] || it_fail "A's gc kept its row"
image_exists "$tag" && [ "$(image_id "$tag")" = "$idB" ] || it_fail "A's gc removed B's tag $tag"
t3=$(MOLCACHE_HOME=$B mc ensure hermes --network none 2>"$IT_DIR/b2.err") && [ "$t3" = "$tag" ] &&
	grep -q "hit $tag" "$IT_DIR/b2.err" || { cat "$IT_DIR/b2.err"; it_fail "B lost its hit after A's gc"; }
ok "A's gc evicts its row and leaves $tag on B's image; B still hits"

# ---- tag_namespace keeps two roots apart -------------------------------------------------------
C=$IT_DIR/rootC
idB_latest=$(image_id molcache/hermes:latest)
tc=$(MOLCACHE_HOME=$C MOLCACHE_TAG_NAMESPACE=team-c mc ensure hermes --network none 2>"$IT_DIR/c1.err") ||
	{ cat "$IT_DIR/c1.err"; it_fail "C's ensure with tag_namespace team-c"; }
[ "$tc" = "team-c/hermes:${tag#molcache/hermes:}" ] || it_fail "C printed $tc, want team-c/hermes:${tag#molcache/hermes:}"
! grep -q "warning" "$IT_DIR/c1.err" || { cat "$IT_DIR/c1.err"; it_fail "C warned although it has its own namespace"; }
image_exists "team-c/hermes:latest" || it_fail "no team-c/hermes:latest"
[ "$(image_id "$tag")" = "$idB" ] && [ "$(image_id molcache/hermes:latest)" = "$idB_latest" ] ||
	it_fail "C's ensure moved B's tags"
mkdir -p "$IT_DIR/cfgC/molcache"
printf 'tag_namespace = team-c\n' >"$IT_DIR/cfgC/molcache/config"
MOLCACHE_HOME=$C XDG_CONFIG_HOME=$IT_DIR/cfgC mc ls | grep -q "team-c/hermes:" || it_fail "ls with tag_namespace in the config file"
MOLCACHE_HOME=$C XDG_CONFIG_HOME=$IT_DIR/cfgC mc show "team-c/hermes:latest" >/dev/null || it_fail "show team-c/hermes:latest"
MOLCACHE_HOME=$C XDG_CONFIG_HOME=$IT_DIR/cfgC mc gc --keep 0 --include-latest --grace 0 >"$IT_DIR/gcC.out" 2>&1 ||
	{ cat "$IT_DIR/gcC.out"; it_fail "C's gc"; }
! image_exists "$tc" || { cat "$IT_DIR/gcC.out"; it_fail "C's gc left $tc"; }
image_exists "$tag" && [ "$(image_id "$tag")" = "$idB" ] || it_fail "C's gc touched B's tag"
rc=0
MOLCACHE_HOME=$C MOLCACHE_TAG_NAMESPACE=Bad/NS mc ls >/dev/null 2>"$IT_DIR/bad.err" || rc=$?
[ $rc = 2 ] && grep -q "tag_namespace 'Bad/NS'" "$IT_DIR/bad.err" || { cat "$IT_DIR/bad.err"; it_fail "a bad tag_namespace: exit $rc"; }
ok "tag_namespace team-c (environment or config file): $tc, no warning, B's tags untouched, C's gc removes only its own; a bad name exits 2"
