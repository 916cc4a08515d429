# it_load.sh — 32 concurrent ensures over 4 runtimes x 2 commits while a gc loop
# (--max-age 1s --keep 1, every 200 ms) runs: every ensure prints a tag that
# exists when it exits, each key builds once, no "database is locked" reaches
# the user, and the index is intact at the end.
. "$(dirname "$0")/lib.sh"
it_setup

runtimes=(claude-code codex gemini-cli hermes)
for rt in "${runtimes[@]}"; do
	src=$(simple_template "$rt")
	echo "RUN echo $rt > /rt.txt" >>"$src/Dockerfile"
	mkrepo "$rt" "$src"
	# a second commit on branch b2: a second key per runtime
	w=$IT_DIR/work/$rt
	git -C "$w" checkout -q -b b2
	echo two >"$w/two.txt"
	git -C "$w" add -A && git -C "$w" commit -qm two && git -C "$w" push -q origin b2
done

# the gc loop: stops when $IT_DIR/stop appears. Under set -e a failing gc would
# end the loop before its status is read: take the status with ||.
gc_loop() {
	local n=0 rc
	while [ ! -e "$IT_DIR/stop" ]; do
		rc=0
		mc gc --max-age 1s --keep 1 -q >>"$IT_DIR/gc.out" 2>>"$IT_DIR/gc.err" || rc=$?
		[ $rc = 0 ] || echo "gc exit $rc" >>"$IT_DIR/gc.bad"
		n=$((n + 1))
		sleep 0.2
	done
	echo "$n" >"$IT_DIR/gc.runs"
}
gc_loop &
gcpid=$!

# one worker: ensure, then check at once that the tag it printed exists
worker() {
	local rt=$1 ref=$2 i=$3 tag
	tag=$(mc ensure "$rt" --ref "$ref" --network none --lease 10s 2>"$IT_DIR/err.$i") || {
		echo "exit $?" >>"$IT_DIR/err.$i"
		return 1
	}
	echo "$rt $ref $tag" >"$IT_DIR/out.$i"
	image_exists "$tag" || { echo "tag $tag missing right after ensure" >>"$IT_DIR/err.$i"; return 1; }
}

pids=()
i=0
for rep in 1 2 3 4; do
	for rt in "${runtimes[@]}"; do
		for ref in main b2; do
			i=$((i + 1))
			worker "$rt" "$ref" "$i" &
			pids+=($!)
		done
	done
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
touch "$IT_DIR/stop"
gcrc=0
wait "$gcpid" || gcrc=$?
[ "$gcrc" = 0 ] && [ -s "$IT_DIR/gc.runs" ] || it_fail "the gc loop died (exit $gcrc): $(tail -3 "$IT_DIR/gc.err")"

if [ "$fails" != 0 ]; then
	for f in "$IT_DIR"/err.*; do [ -s "$f" ] && { echo "== $f"; cat "$f"; }; done
	it_fail "$fails of 32 ensures failed"
fi
ok "32 concurrent ensures under a gc loop ($(cat "$IT_DIR/gc.runs") gc runs) all printed a tag that existed on exit"

[ "$(cat "$IT_DIR"/out.* | wc -l)" = 32 ] || it_fail "want 32 results"
[ "$(cut -d' ' -f3 "$IT_DIR"/out.* | sort -u | wc -l)" = 8 ] || it_fail "want 8 distinct tags: $(cat "$IT_DIR"/out.*)"
for rt in "${runtimes[@]}"; do
	for ref in main b2; do
		n=$(grep -h "^$rt $ref " "$IT_DIR"/out.* | cut -d' ' -f3 | sort -u | wc -l)
		[ "$n" = 1 ] || it_fail "$rt@$ref got $n tags"
	done
done
ok "one tag per key"

builds=$(sqlite3 "$MOLCACHE_HOME/index.db" 'SELECT count(*) FROM builds WHERE ok = 1')
twice=$(sqlite3 "$MOLCACHE_HOME/index.db" 'SELECT count(*) FROM (SELECT key FROM builds GROUP BY key HAVING count(*) > 1)')
[ "$builds" = 8 ] && [ "$twice" = 0 ] || it_fail "builds: $builds ok, $twice keys built more than once (want 8, 0)"
ok "one build per key (8 builds)"

if grep -il "database is locked" "$IT_DIR"/err.* "$IT_DIR/gc.err" 2>/dev/null; then
	it_fail "'database is locked' reached the user"
fi
[ ! -s "$IT_DIR/gc.bad" ] || it_fail "gc failed: $(sort | uniq -c <"$IT_DIR/gc.bad") $(tail -3 "$IT_DIR/gc.err")"
ok "no 'database is locked' on any stderr; every gc run exited 0"

# once the leases run out the loop's policy applies: the newest key of each runtime stays
sleep 11
mc gc --max-age 1s --keep 1 -q || it_fail "final gc exit $?"
n=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT count(*) FROM entries WHERE state = 1")
[ "$n" = 4 ] || it_fail "after the leases: $n ready entries, want 4 (keep 1 per runtime)"
for key in $(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT image_tag FROM entries"); do
	image_exists "$key" || it_fail "kept entry's image $key is gone"
done
[ "$(sqlite3 "$MOLCACHE_HOME/index.db" 'PRAGMA integrity_check')" = ok ] || it_fail "integrity_check"
ok "after the leases, keep 1 leaves one entry per runtime; integrity_check ok"
