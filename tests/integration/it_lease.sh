# it_lease.sh — ensure --lease is capped at 7 days (exit 2 naming the limit,
# before any I/O), and `molcache lease --release KEY|TAG` drops a lease
# (issue 15 item 10).
. "$(dirname "$0")/lib.sh"
it_setup

src=$(simple_template codex)
mkrepo codex "$src"
tag=$(mc ensure codex --network none -q 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "first ensure"; }
leases() { sqlite3 "$MOLCACHE_HOME/index.db" "SELECT count(*) FROM leases"; }

# ---- the cap: exit 2 naming it, before any I/O ------------------------------------------------------
rc=0
mc ensure codex --network none --lease 30d >/dev/null 2>"$IT_DIR/lease.err" || rc=$?
[ $rc = 2 ] && grep -q "^molcache: .*lease.*7d\|7 days" "$IT_DIR/lease.err" || { cat "$IT_DIR/lease.err"; it_fail "--lease 30d: exit $rc, want 2 naming the 7-day cap"; }
rc=0
MOLCACHE_HOME=$IT_DIR/none/cache DOCKER_HOST=unix://$IT_DIR/none.sock mc ensure codex --lease 8d >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] && [ ! -e "$IT_DIR/none" ] || it_fail "--lease 8d with no root and no engine: exit $rc (want 2, nothing made)"
mc ensure codex --network none --lease 7d -q >/dev/null || it_fail "--lease 7d (the cap itself)"
[ "$(leases)" = 1 ] || it_fail "no lease written for --lease 7d"
ok "--lease over 7d exits 2 naming the cap, before any I/O; 7d is taken"

# ---- release by TAG, then by KEY (and a 12-digit prefix) --------------------------------------------
mc lease --release "$tag" >"$IT_DIR/rel.out" || it_fail "lease --release TAG"
[ "$(leases)" = 0 ] || it_fail "lease --release TAG left the lease"
grep -q "released" "$IT_DIR/rel.out" || it_fail "lease --release TAG says: $(cat "$IT_DIR/rel.out")"
t2=$(mc ensure codex --network none --lease 1h -q) || it_fail "--lease 1h"
[ "$t2" = "$tag" ] || it_fail "ensure --lease printed '$t2', want '$tag'"
k2=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT key FROM leases")
mc lease --release "$k2" >/dev/null || it_fail "lease --release KEY"
[ "$(leases)" = 0 ] || it_fail "lease --release KEY left the lease"
mc ensure codex --network none --lease 1h -q >/dev/null || it_fail "--lease 1h again"
mc lease --release "${k2:0:12}" >/dev/null || it_fail "lease --release KEY12"
[ "$(leases)" = 0 ] || it_fail "lease --release KEY12 left the lease"
mc lease --release "$k2" >"$IT_DIR/rel2.out" || it_fail "a second release exits non-zero"
grep -q "no lease" "$IT_DIR/rel2.out" || it_fail "a second release says: $(cat "$IT_DIR/rel2.out")"
ok "molcache lease --release TAG|KEY|KEY12 drops the lease; releasing again is a no-op"

# ---- refusals -----------------------------------------------------------------------------------------
rc=0; mc lease --release "${k2:0:6}" 2>/dev/null || rc=$?
[ $rc = 2 ] || it_fail "lease --release with a 6-digit prefix: exit $rc, want 2"
rc=0; mc lease --release "$(printf 'f%.0s' $(seq 1 64))" >/dev/null 2>&1 || rc=$?
[ $rc = 0 ] || it_fail "lease --release of a full key with no row: exit $rc, want 0 (nothing to release)"
rc=0; mc lease --release "molcache/codex:ffffffffffff" 2>/dev/null || rc=$?
[ $rc = 8 ] || it_fail "lease --release of an unknown tag: exit $rc, want 8"
rc=0; mc lease 2>/dev/null || rc=$?
[ $rc = 2 ] || it_fail "lease with no --release: exit $rc, want 2"
mc lease --help | grep -q -- "--release" || it_fail "lease --help"
mc ensure --help | grep -q "at most 7d" || it_fail "ensure --help does not give the lease cap"
ok "lease refuses a short prefix (2), an unknown tag (8), no --release (2); --help documents it"
