# it_registry_backoff.sh — issue 16 item 6: a failing registry is remembered,
# not retried on every ensure. A registry that answers every request after 6 s
# with HTTP 500 costs the first ensure its wait (one warning, a local build);
# the next ensures skip it at once with one warning naming the backoff, and
# send it nothing, until the backoff (30 s, doubling) runs out. A fast failure
# (nothing listens) is not remembered.
. "$(dirname "$0")/lib.sh"
it_setup

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$port" "$IT_DIR/reqs" <<'PY' &
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        open(sys.argv[2], "a").write(self.command + " " + self.path + "\n")
        time.sleep(6)
        self.send_response(500); self.send_header("Content-Length", "0"); self.end_headers()
    do_GET = do_HEAD = do_POST = do_PUT = answer
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
srv=$!
trap 'it_rc=$?; kill $srv 2>/dev/null || true; it_teardown' EXIT
for _ in $(seq 1 50); do python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break; sleep 0.1; done

src=$(simple_template codex)
mkrepo codex "$src"
reg=127.0.0.1:$port/slow

t0=$(date +%s%N)
mc ensure codex --network none --registry "$reg" -q >/dev/null 2>"$IT_DIR/e1.err" || { cat "$IT_DIR/e1.err"; it_fail "first ensure"; }
ms1=$((($(date +%s%N) - t0) / 1000000))
grep -q "^molcache: warning: registry lookup: .*HTTP 500.*building locally" "$IT_DIR/e1.err" || { cat "$IT_DIR/e1.err"; it_fail "no lookup warning"; }
[ $ms1 -ge 6000 ] || it_fail "the first ensure took $ms1 ms: the registry was not asked"
n1=$(wc -l <"$IT_DIR/reqs")
ok "a registry answering 500 after 6 s: the first ensure waits for it ($ms1 ms), warns and builds locally"

for i in 2 3; do
	commit codex "f$i" "commit $i"
	t0=$(date +%s%N)
	mc ensure codex --network none --registry "$reg" -q >/dev/null 2>"$IT_DIR/e$i.err" || { cat "$IT_DIR/e$i.err"; it_fail "ensure $i"; }
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$(grep -c 'warning' "$IT_DIR/e$i.err")" = 1 ] || { cat "$IT_DIR/e$i.err"; it_fail "ensure $i: not one warning"; }
	grep -q "^molcache: warning: registry 127.0.0.1:$port failed 1 time in a row: not asked again before .*; building locally" "$IT_DIR/e$i.err" ||
		{ cat "$IT_DIR/e$i.err"; it_fail "ensure $i: no backoff warning"; }
	[ $ms -lt 6000 ] || it_fail "ensure $i took $ms ms: it waited for the registry"
done
[ "$(wc -l <"$IT_DIR/reqs")" = "$n1" ] || it_fail "the registry was asked during the backoff: $(cat "$IT_DIR/reqs")"
[ "$(counter registry_skipped)" = 2 ] || it_fail "registry_skipped $(counter registry_skipped), want 2"
ok "the next ensures skip it at once ($ms ms), one warning each, no request sent, registry_skipped 2"

# --registry-required asks anyway: the registry is the point
commit codex f4 "commit 4"
rc=0
mc ensure codex --network none --registry "$reg" --registry-required -q >/dev/null 2>"$IT_DIR/req.err" || rc=$?
[ $rc = 3 ] || { cat "$IT_DIR/req.err"; it_fail "--registry-required during the backoff: exit $rc, want 3"; }
[ "$(wc -l <"$IT_DIR/reqs")" -gt "$n1" ] || it_fail "--registry-required did not ask the registry"
ok "--registry-required asks the registry during the backoff (exit 3 on its failure)"

# a fast failure is not remembered: nothing listens on this port
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for i in 5 6; do
	commit codex "f$i" "commit $i"
	mc ensure codex --network none --registry "127.0.0.1:$dead/x" -q >/dev/null 2>"$IT_DIR/d$i.err" || it_fail "ensure $i (dead registry)"
	! grep -q "not asked again" "$IT_DIR/d$i.err" || { cat "$IT_DIR/d$i.err"; it_fail "a refused connection started a backoff"; }
done
ok "a refused connection (fast) is warned about each time and starts no backoff"
