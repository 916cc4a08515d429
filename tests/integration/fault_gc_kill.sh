# fault_gc_kill.sh — kill -9 of gc at random moments (>= 20 trials), then a gc:
# no orphan trees, no row left evicting, PRAGMA integrity_check ok, every
# surviving ready row's image exists, no gc leftovers in tmp/.
. "$(dirname "$0")/lib.sh"
it_setup

db() { sqlite3 "$MOLCACHE_HOME/index.db" "$@"; }
TRIALS=${MC_GC_KILL_TRIALS:-20}
mkrepo codex "$(simple_template codex)"
n_build=0
refill() { # keep at least 3 entries to evict
	while [ "$(db "SELECT count(*) FROM entries WHERE state=1" 2>/dev/null || echo 0)" -lt 3 ]; do
		commit codex f.txt "v$n_build $RANDOM" >/dev/null
		mc ensure codex --network none -q >/dev/null || it_fail "ensure"
		n_build=$((n_build + 1))
	done
}

check() {
	local t=$1 k
	db 'PRAGMA integrity_check' | grep -qx ok || it_fail "trial $t: integrity_check"
	for k in $(ls "$MOLCACHE_HOME/trees"); do
		[ -n "$(db "SELECT key FROM entries WHERE key='$k'")" ] || it_fail "trial $t: orphan tree $k"
	done
	[ "$(db 'SELECT count(*) FROM entries WHERE state=3')" = 0 ] || it_fail "trial $t: rows left evicting"
	for id in $(db 'SELECT image_id FROM entries WHERE state=1'); do
		image_exists "$id" || it_fail "trial $t: ready row's image $id is gone"
	done
	! ls "$MOLCACHE_HOME/tmp" | grep -q '^gc-' || it_fail "trial $t: gc leftovers in tmp/"
}

modes=("--max-age 0s --include-latest" "--max-size 0 --include-latest" "--trees-only --max-age 0s --include-latest"
	"--max-age 0s --include-latest --orphans")
killed=0
for t in $(seq 1 "$TRIALS"); do
	refill
	mode=${modes[$((t % ${#modes[@]}))]}
	# shellcheck disable=SC2086
	"$MOLCACHE" gc $mode -q >/dev/null 2>&1 &
	pid=$!
	sleep "0.$(printf "%03d" $((RANDOM % 250)))"
	if kill -9 $pid 2>/dev/null; then killed=$((killed + 1)); fi
	wait $pid 2>/dev/null || true
	mc gc -q || it_fail "trial $t: recovery gc exit $?"
	check "$t"
	# the trees-only mode leaves rows without trees: let them go to keep the loop moving
	[ $((t % 4)) = 0 ] && mc gc --max-age 0s --include-latest -q >/dev/null 2>&1 || true
done
check end
ok "$TRIALS kill -9 trials ($killed killed mid-run, $n_build builds): state consistent after the next gc"
