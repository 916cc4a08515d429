# it_gc_canary.sh — gc never follows a symlink and never deletes outside the
# cache root, whatever the index or a tree holds: a canary outside survives every mode.
. "$(dirname "$0")/lib.sh"
it_setup

db() { sqlite3 "$MOLCACHE_HOME/index.db" "$@"; }
mkrepo codex "$(simple_template codex)"
OUT=$IT_DIR/outside
T=$MOLCACHE_HOME/trees
n=0
plant() {
	mkdir -p "$OUT/sub"
	echo canary > "$OUT/canary"; echo canary > "$OUT/sub/canary"
	while [ "$(db "SELECT count(*) FROM entries WHERE state=1" 2>/dev/null || echo 0)" -lt 2 ]; do
		commit codex f.txt "v$n $RANDOM" >/dev/null; n=$((n + 1))
		mc ensure codex --network none -q >/dev/null || it_fail ensure
	done
	rm -rf "$T/x"; ln -sfn "$OUT" "$T/x"                       # a symlink among the trees
	local k; k=$(db "SELECT key FROM entries WHERE state=1 ORDER BY key LIMIT 1")
	db "UPDATE entries SET tree_path='../../outside' WHERE key='$k'"  # a hostile tree path
	if [ -d "$T/$k" ] && [ ! -L "$T/$k" ]; then ln -sfn "$OUT" "$T/$k/escape"; fi  # a symlink inside a tree
	local k2; k2=$(db "SELECT key FROM entries WHERE state=1 ORDER BY key DESC LIMIT 1")
	if [ -d "$T/$k2" ] && [ ! -L "$T/$k2" ]; then rm -rf "$T/$k2"; ln -s "$OUT" "$T/$k2"; fi  # a tree that is a symlink
	db "UPDATE entries SET tree_path='$OUT' WHERE key='$k2'"
	# a row that only exists to point outside
	local fk; fk=$(printf 'c%.0s' $(seq 64))
	db "INSERT OR REPLACE INTO entries (key, runtime, tree_path, tree_bytes, state, last_used_ms) VALUES ('$fk', 'codex', '$OUT', 1, 2, 0)"
	# a row whose key walks out of the root and whose image is someone else's
	db "INSERT OR REPLACE INTO entries (key, runtime, image_tag, image_id, state, last_used_ms) VALUES ('../../victimdir', 'codex', '$MC_BASE_IMAGE', '$(image_id "$MC_BASE_IMAGE")', 1, 1000)"
	ln -sfn "$OUT" "$MOLCACHE_HOME/tmp/old-link"; touch -h -d '3 hours ago' "$MOLCACHE_HOME/tmp/old-link"
	ln -sfn "$OUT" "$MOLCACHE_HOME/repos/$(printf 'd%.0s' $(seq 64)).git"
}
alive() {
	[ "$(cat "$OUT/canary")" = canary ] && [ "$(cat "$OUT/sub/canary")" = canary ] || it_fail "canary gone after: gc $*"
	image_exists "$MC_BASE_IMAGE" || it_fail "a hostile row made gc remove a foreign image: gc $*"
	[ ! -e "$(dirname "$MOLCACHE_HOME")/victimdir.lock" ] && [ ! -e "$IT_DIR/victimdir.lock" ] ||
		it_fail "a hostile key made gc create a file outside the root: gc $*"
}
for mode in "" "--dry-run --max-age 0s --include-latest" "--max-age 0s" "--max-age 0s --include-latest" \
	"--trees-only --max-age 0s --include-latest" "--max-size 0 --include-latest" "--keep 1" \
	"--orphans --prune-mirrors --grace 0s" "--max-age 0s --include-latest --orphans --prune-mirrors --grace 0s --order cost"; do
	plant
	# shellcheck disable=SC2086
	mc gc $mode -q >/dev/null 2>"$IT_DIR/err" || [ $? = 7 ] || it_fail "gc $mode: $(cat "$IT_DIR/err")"
	alive "$mode"
	[ -d "$OUT" ] && [ ! -L "$OUT" ] || it_fail "outside dir replaced after: gc $mode"
	ok "canary survives: gc $mode"
done
[ ! -e "$T/x" ] || it_fail "the planted trees/x link was not removed"
ok "planted links were removed as links"
