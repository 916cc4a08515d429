# it_messages.sh — the small things an operator trips over, each as docs and
# --help promise: hints that work when typed, limits with a way out, config
# (done and moved out: the --offline hint and config files,
# tests/integration/it_config_file.sh; status -o, it_status_output.sh; a sha
# prefix in --ref, a 5 MB Dockerfile and the docs, it_template_messages.sh;
# gc --keep 0 and --registry --max-age 0, it_gc_zero.sh; a git server that
# closes after a 401, it_git_auth.sh).
. "$(dirname "$0")/../integration/lib.sh"
it_setup

src=$(simple_template codex)
mkrepo codex "$src"
tag=$(mc ensure codex --network none -q 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "first ensure"; }
key=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT key FROM entries WHERE image_tag = '$tag'")

# ---- leases: capped, and released --------------------------------------------------------------------
rc=0
mc ensure codex --network none --lease 30d >/dev/null 2>"$IT_DIR/lease.err" || rc=$?
[ $rc = 2 ] && grep -q "^molcache: .*lease.*7d\|7 days" "$IT_DIR/lease.err" || { cat "$IT_DIR/lease.err"; it_fail "--lease 30d: exit $rc, want 2 naming the 7-day cap"; }
mc ensure codex --network none --lease 1h -q >/dev/null || it_fail "--lease 1h"
[ "$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT count(*) FROM leases")" = 1 ] || it_fail "no lease written"
mc lease --release "$t2" || it_fail "lease --release TAG"
[ "$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT count(*) FROM leases")" = 0 ] || it_fail "lease --release left the lease"
mc ensure codex --network none --lease 1h -q >/dev/null || it_fail "--lease 1h again"
k2=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT key FROM leases")
mc lease --release "$k2" || it_fail "lease --release KEY"
[ "$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT count(*) FROM leases")" = 0 ] || it_fail "lease --release KEY left the lease"
mc lease --help | grep -q -- "--release" || it_fail "lease --help"
ok "--lease is capped at 7 days; molcache lease --release TAG|KEY drops a lease"
