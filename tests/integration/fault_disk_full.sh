# fault_disk_full.sh — the cache root's filesystem at 100 % (a real 20 MB tmpfs
# filled with dd), the moment gc exists for:
#  - a hit prints its tag and exits 0 (its bookkeeping is skipped with a warning);
#  - a miss exits 7 "no space left on '<fs>'" with a hint to run gc, and is not
#    recorded as a build failure (no backoff once space is back);
#  - gc frees first and records afterwards: trees, tmp/ and images go, rows are
#    deleted, exit 0 (a failed run record is a warning);
#  - after that the next ensure builds, and the index is intact.
. "$(dirname "$0")/../integration/lib.sh"
it_setup

src=$(simple_template codex)
mkrepo codex "$src"
src=$(simple_template gemini-cli)
mkrepo gemini-cli "$src"

mnt=$IT_DIR/small
mkdir -p "$mnt"
mount -t tmpfs -o size=20m tmpfs "$mnt" || it_fail "cannot mount a 20 MB tmpfs (root needed)"
trap 'it_rc=$?; umount -l "$mnt" 2>/dev/null || true; it_teardown' EXIT
export MOLCACHE_HOME=$mnt/cache

tag=$(mc ensure codex --network none -q 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "first ensure"; }
mc ensure gemini-cli --network none -q >/dev/null 2>"$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "second runtime"; }
# a stale checkout left by a crash, for gc to free
mkdir -p "$MOLCACHE_HOME/tmp/$(printf '%064d' 5).99999"
head -c 200000 /dev/urandom >"$MOLCACHE_HOME/tmp/$(printf '%064d' 5).99999/blob"

dd if=/dev/zero of="$mnt/fill" bs=64k >/dev/null 2>&1 || true
[ "$(df --output=avail "$mnt" | tail -1 | tr -d ' ')" = 0 ] || it_fail "the tmpfs is not full"

# ---- a hit on a full disk ----------------------------------------------------------------
rc=0
hit=$(mc ensure codex --network none 2>"$IT_DIR/hit.err") || rc=$?
[ $rc = 0 ] || { cat "$IT_DIR/hit.err"; it_fail "a hit on a full disk exited $rc"; }
[ "$hit" = "$tag" ] || it_fail "the hit printed '$hit', want $tag"
image_exists "$tag" || it_fail "$tag missing after the hit"
grep -q "^molcache: warning: .*\(full\|space\)" "$IT_DIR/hit.err" ||
	{ cat "$IT_DIR/hit.err"; it_fail "the skipped bookkeeping was not warned about"; }
rc=0
mc ensure codex --network none --log-format json >/dev/null 2>"$IT_DIR/hit.json" || rc=$?
[ $rc = 0 ] || it_fail "a JSON hit on a full disk exited $rc"
tail -1 "$IT_DIR/hit.json" | grep -q "\"event\":\"result\"" || { tail -3 "$IT_DIR/hit.json"; it_fail "the JSON hit does not end with its result"; }
ok "a hit on a full disk prints $tag, exit 0, with a warning"

# ---- a miss on a full disk ---------------------------------------------------------------
commit codex new.txt "a new commit"
rc=0
mc ensure codex --network none >/dev/null 2>"$IT_DIR/miss.err" || rc=$?
[ $rc = 7 ] || { cat "$IT_DIR/miss.err"; it_fail "a miss on a full disk exited $rc, want 7"; }
grep -q "^molcache: .*no space left on '[^']*'" "$IT_DIR/miss.err" ||
	{ cat "$IT_DIR/miss.err"; it_fail "the miss does not say 'no space left on <fs>'"; }
grep -q "^hint: .*molcache gc" "$IT_DIR/miss.err" || { cat "$IT_DIR/miss.err"; it_fail "no hint to run gc"; }
ok "a miss on a full disk: exit 7, '$(grep '^molcache: .*no space' "$IT_DIR/miss.err" | head -1)'"

# ---- gc on a full disk: frees first ------------------------------------------------------
# a dry run lists the crash's leftover once (gc sweeps tmp/ before and after the plan)
n=$(mc gc --dry-run --max-size 1 --grace 0 --json 2>/dev/null |
	python3 -c 'import json,sys; print(sum(s["kind"] == "tmp" for s in json.load(sys.stdin)["stale"]))')
[ "$n" = 1 ] || it_fail "gc --dry-run listed the tmp/ leftover $n times, want 1"
[ -n "$(ls -A "$MOLCACHE_HOME/trees")" ] || it_fail "no trees before gc"
rc=0
mc gc --max-size 1 --include-latest --prune-mirrors --grace 0 >"$IT_DIR/gc.out" 2>"$IT_DIR/gc.err" || rc=$?
[ $rc = 0 ] || { cat "$IT_DIR/gc.out" "$IT_DIR/gc.err"; it_fail "gc on a full disk exited $rc"; }
[ -z "$(ls -A "$MOLCACHE_HOME/trees")" ] || { cat "$IT_DIR/gc.out" "$IT_DIR/gc.err"; it_fail "gc left trees: $(ls "$MOLCACHE_HOME/trees")"; }
[ -z "$(ls -A "$MOLCACHE_HOME/tmp")" ] || it_fail "gc left tmp/: $(ls "$MOLCACHE_HOME/tmp")"
! image_exists "$tag" || it_fail "gc left the image $tag"
n=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT count(*) FROM entries WHERE state = 1")
[ "$n" = 0 ] || it_fail "gc left $n ready rows"
ok "gc on a full disk exit 0: trees, tmp/, images and rows gone"

# ---- space back: the index is whole and the miss builds at once (no backoff) --------------
rm -f "$mnt/fill"
[ "$(sqlite3 "$MOLCACHE_HOME/index.db" 'PRAGMA integrity_check')" = ok ] || it_fail "index after a full disk"
t2=$(mc ensure codex --network none -q 2>"$IT_DIR/after.err") || { cat "$IT_DIR/after.err"; it_fail "ensure after space came back"; }
[ "$t2" != "$tag" ] || it_fail "the new commit gave the old tag"
image_exists "$t2" || it_fail "$t2 missing"
ok "space back: integrity_check ok, the new commit builds at once ($t2), no failure backoff"
