# it_messages.sh — the small things an operator trips over, each as docs and
# --help promise: hints that work when typed, limits with a way out, config
# (done and moved out: the --offline hint and config files,
# tests/integration/it_config_file.sh; status -o, it_status_output.sh; a sha
# prefix in --ref, a 5 MB Dockerfile and the docs, it_template_messages.sh;
# gc --keep 0 and --registry --max-age 0, it_gc_zero.sh; the lease cap and
# lease --release, it_lease.sh).
. "$(dirname "$0")/../integration/lib.sh"
it_setup

src=$(simple_template codex)
mkrepo codex "$src"
tag=$(mc ensure codex --network none -q 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "first ensure"; }

# ---- a git server that closes after a 401 ------------------------------------------------------------
port_file=$IT_DIR/p401
python3 - "$port_file" <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(30)
end = time.time() + 30
while time.time() < end:
    try:
        c, _ = s.accept()
    except OSError:
        break
    c.recv(65536)
    c.sendall(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 100\r\n\r\nshort")
    c.close()
PY
srv=$!
for _ in $(seq 1 100); do [ -s "$port_file" ] && break; sleep 0.05; done
rc=0
MOLCACHE_GIT_TOKEN=tok MOLCACHE_REPO_PREFIX="http://127.0.0.1:$(cat "$port_file")/workspace-template-" \
	mc ensure codex --network none >/dev/null 2>"$IT_DIR/401.err" || rc=$?
kill $srv 2>/dev/null || true
wait $srv 2>/dev/null || true
[ $rc = 3 ] || { cat "$IT_DIR/401.err"; it_fail "401 then close: exit $rc, want 3"; }
! grep -q "invalid constant string" "$IT_DIR/401.err" || { cat "$IT_DIR/401.err"; it_fail "401 then close: http parser words"; }
grep -qi "401\|credentials\|authenticat" "$IT_DIR/401.err" || { cat "$IT_DIR/401.err"; it_fail "401 then close: no word of authentication"; }
ok "a git server closing after 401: '$(grep '^molcache:' "$IT_DIR/401.err" | head -1)'"
