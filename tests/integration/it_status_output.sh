# it_status_output.sh — issue 15 item 10: status -o into a missing directory
# exits 1 naming the file asked for (not its temp file), and a symlink planted
# at a temp name status might use is never followed.
. "$(dirname "$0")/lib.sh"
it_setup

src=$(simple_template codex)
mkrepo codex "$src"
mc ensure codex --network none -q >/dev/null 2>"$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "first ensure"; }

rc=0
mc status -o /nonexistent/dir/x.prom >/dev/null 2>"$IT_DIR/so.err" || rc=$?
[ $rc = 1 ] || { cat "$IT_DIR/so.err"; it_fail "status -o into a missing directory: exit $rc, want 1"; }
grep -q "^molcache: .*'/nonexistent/dir/x.prom'" "$IT_DIR/so.err" || { cat "$IT_DIR/so.err"; it_fail "status -o does not name the file"; }
! grep -q "tmp" "$IT_DIR/so.err" || it_fail "status -o names its temp file: $(cat "$IT_DIR/so.err")"

mkdir -p "$IT_DIR/prom"
echo precious >"$IT_DIR/victim"
last=$(cat /proc/sys/kernel/ns_last_pid)
for p in $(seq $((last + 1)) $((last + 300))); do ln -s "$IT_DIR/victim" "$IT_DIR/prom/m.prom.tmp.$p"; done
mc status -o "$IT_DIR/prom/m.prom" --format prometheus >/dev/null 2>"$IT_DIR/so2.err" || { cat "$IT_DIR/so2.err"; it_fail "status -o with planted links"; }
[ "$(cat "$IT_DIR/victim")" = precious ] || it_fail "status -o wrote through a planted symlink"
grep -q "^molcache_" "$IT_DIR/prom/m.prom" || it_fail "status -o wrote no metrics"
[ "$(stat -c %a "$IT_DIR/prom/m.prom")" = 644 ] || it_fail "the textfile is mode $(stat -c %a "$IT_DIR/prom/m.prom"), want 644 for the collector"
[ "$(find "$IT_DIR/prom" -name 'm.prom.tmp.*' -type f | wc -l)" = 0 ] || it_fail "a temp file was left"
ok "status -o: exit 1 naming the file; a planted symlink is never followed; the textfile is 0644"
