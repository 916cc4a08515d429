# it_gc_zero.sh — issue 15 item 10: zero is a value, not "unset". gc --keep 0
# alone plans every entry no other rule protects (as the man page says), and
# gc --registry --max-age 0 is accepted (every molcache tag is older than now).
. "$(dirname "$0")/lib.sh"
it_setup

src=$(simple_template codex)
mkrepo codex "$src"
t1=$(mc ensure codex --network none -q 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "first ensure"; }
k1=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT key FROM entries WHERE image_tag = '$t1'")
commit codex two.txt two
t2=$(mc ensure codex --network none -q 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "second ensure"; }
k2=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT key FROM entries WHERE image_tag = '$t2'")

mc gc --keep 0 --dry-run --json >"$IT_DIR/keep0.json" 2>"$IT_DIR/keep0.err" || { cat "$IT_DIR/keep0.err"; it_fail "gc --keep 0 --dry-run"; }
python3 - "$IT_DIR/keep0.json" "$k1" "$k2" <<'PY' || it_fail "gc --keep 0: $(head -c 600 "$IT_DIR/keep0.json")"
import json, sys
d = json.load(open(sys.argv[1]))
planned = {p["key"] for p in d["plan"]}
assert sys.argv[2] in planned, "the older entry is not planned"
assert sys.argv[3] not in planned, "the :latest entry was planned"
assert d["policy"]["keep"] == 0, d["policy"]
PY
mc gc --keep 0 --dry-run --json --max-age 30d >"$IT_DIR/keep0b.json" 2>/dev/null || it_fail "gc --keep 0 --max-age"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert not d["plan"], d["plan"]' "$IT_DIR/keep0b.json" ||
	it_fail "--keep 0 with --max-age 30d evicted fresh entries"
mc gc --dry-run --json --max-age 30d >"$IT_DIR/nokeep.json" 2>/dev/null || it_fail "gc without --keep"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["policy"]["keep"] is None, d["policy"]' "$IT_DIR/nokeep.json" ||
	it_fail "policy.keep is not null when --keep is not given"
ok "gc --keep 0 alone plans the non-latest entry; with --max-age it adds no eviction; policy.keep null when unset"

rc=0
MOLCACHE_REGISTRY=http://$MC_REGISTRY mc gc --registry --max-age 0 --dry-run >"$IT_DIR/reg.out" 2>&1 || rc=$?
[ $rc = 0 ] || { cat "$IT_DIR/reg.out"; it_fail "gc --registry --max-age 0 --dry-run: exit $rc"; }
! grep -q "needs --max-age" "$IT_DIR/reg.out" || it_fail "gc --registry --max-age 0 says it needs --max-age"
rc=0
MOLCACHE_REGISTRY=http://$MC_REGISTRY mc gc --registry --dry-run >"$IT_DIR/reg2.out" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "needs --max-age" "$IT_DIR/reg2.out" || { cat "$IT_DIR/reg2.out"; it_fail "gc --registry without --max-age: exit $rc"; }
ok "gc --registry --max-age 0 is accepted; without --max-age it still exits 2"
