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

MOLCACHE_HOME=$A mc gc --max-age 1s --include-latest --grace 0 >"$IT_DIR/gc.out" 2>&1 || { cat "$IT_DIR/gc.out"; it_fail "A's gc"; }
[ "$(sqlite3 "$A/index.db" 'SELECT count(*) FROM entries')" = 0 ] || it_fail "A's gc kept its row"
image_exists "$tag" && [ "$(image_id "$tag")" = "$idB" ] || it_fail "A's gc removed B's tag $tag"
t3=$(MOLCACHE_HOME=$B mc ensure hermes --network none 2>"$IT_DIR/b2.err") && [ "$t3" = "$tag" ] &&
	grep -q "hit $tag" "$IT_DIR/b2.err" || { cat "$IT_DIR/b2.err"; it_fail "B lost its hit after A's gc"; }
ok "A's gc evicts its row and leaves $tag on B's image; B still hits"
