# it_git_auth.sh — a remote's credentials go to its own host only, and an
# authentication failure reads as one (issue 16 item 2, issue 15 item 10):
#  - a remote that redirects (302) to another host (127.0.0.2) which asks for
#    credentials: the token is withheld (that host records no Authorization),
#    exit 3, "credentials withheld" with a hint;
#  - a git http server that answers 401 with a body shorter than its
#    Content-Length and closes: "authentication required by HOST:PORT" with a
#    MOLCACHE_GIT_TOKEN hint without a token, "refused our credentials" with
#    one; never libgit2's "http parser error: invalid constant string".
. "$(dirname "$0")/lib.sh"
it_setup
TOKEN="tok-$RANDOM$RANDOM-secret"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap 'it_rc=$?; cleanup; it_teardown' EXIT

# serve MODE HOST NAME [TARGET]: starts authsrv.py; echoes its port
serve() {
	python3 "$MC_SRC/tests/integration/authsrv.py" "$1" "$2" "$IT_DIR/$3.port" "$IT_DIR/$3.log" ${4:+"$4"} &
	PIDS+=($!)
	for _ in $(seq 1 100); do [ -s "$IT_DIR/$3.port" ] && break; sleep 0.05; done
	[ -s "$IT_DIR/$3.port" ] || it_fail "authsrv $1 on $2 did not start"
}
run3() { # NAME ENV…: ensure codex with ENV, want exit 3; stderr in NAME.err
	local name=$1 rc=0; shift
	env "$@" "$MOLCACHE" ensure codex --network none >/dev/null 2>"$IT_DIR/$name.err" || rc=$?
	[ $rc = 3 ] || { cat "$IT_DIR/$name.err"; it_fail "$name: exit $rc, want 3"; }
}

# ---- a redirect to another host gets no credentials --------------------------------------
serve record 127.0.0.2 rec
serve redirect 127.0.0.1 red "http://127.0.0.2:$(cat "$IT_DIR/rec.port")"
run3 redirect MOLCACHE_GIT_TOKEN="$TOKEN" MOLCACHE_REPO_PREFIX="http://127.0.0.1:$(cat "$IT_DIR/red.port")/workspace-template-"
grep -q "info/refs" "$IT_DIR/rec.log" || { cat "$IT_DIR/red.log"; it_fail "the redirect was not followed: the test proves nothing"; }
! grep -q "auth=yes" "$IT_DIR/rec.log" || { cat "$IT_DIR/rec.log"; it_fail "the token went to the redirect's target 127.0.0.2"; }
grep -q "^molcache: .*credentials withheld" "$IT_DIR/redirect.err" && grep -q "^hint: .*only to its own host" "$IT_DIR/redirect.err" ||
	{ cat "$IT_DIR/redirect.err"; it_fail "redirect: no 'credentials withheld' with a hint"; }
ok "a remote redirecting to 127.0.0.2: the token is withheld (no Authorization there): '$(head -1 "$IT_DIR/redirect.err")'"

# the same host on another port is another server too
serve record 127.0.0.1 rec2
serve redirect 127.0.0.1 red2 "http://127.0.0.1:$(cat "$IT_DIR/rec2.port")"
run3 redirect2 MOLCACHE_GIT_TOKEN="$TOKEN" MOLCACHE_REPO_PREFIX="http://127.0.0.1:$(cat "$IT_DIR/red2.port")/workspace-template-"
grep -q "info/refs" "$IT_DIR/rec2.log" && ! grep -q "auth=yes" "$IT_DIR/rec2.log" ||
	{ cat "$IT_DIR/rec2.log"; it_fail "the token went to another port of the same host"; }
ok "a redirect to another port of the same host: the token is withheld too"

# ---- a server that answers 401 and closes --------------------------------------------------
serve close401 127.0.0.1 c401
p401=$(cat "$IT_DIR/c401.port")
run3 close-none MOLCACHE_REPO_PREFIX="http://127.0.0.1:$p401/workspace-template-"
run3 close-tok MOLCACHE_GIT_TOKEN="$TOKEN" MOLCACHE_REPO_PREFIX="http://127.0.0.1:$p401/workspace-template-"
for n in close-none close-tok; do
	! grep -q "parser error\|invalid constant string" "$IT_DIR/$n.err" || { cat "$IT_DIR/$n.err"; it_fail "$n: libgit2's parser words"; }
done
grep -q "^molcache: remote 'http://127.0.0.1:$p401/workspace-template-codex': authentication required by 127.0.0.1:$p401" "$IT_DIR/close-none.err" &&
	grep -q "^hint: .*MOLCACHE_GIT_TOKEN" "$IT_DIR/close-none.err" ||
	{ cat "$IT_DIR/close-none.err"; it_fail "401 then close, no token: want 'authentication required' and a MOLCACHE_GIT_TOKEN hint"; }
grep -q "^molcache: remote '.*': 127.0.0.1:$p401 refused our credentials (HTTP 401)" "$IT_DIR/close-tok.err" &&
	grep -q "^hint: .*MOLCACHE_GIT_TOKEN" "$IT_DIR/close-tok.err" ||
	{ cat "$IT_DIR/close-tok.err"; it_fail "401 then close, with a token: want 'refused our credentials' and a hint"; }
ok "a git server closing after 401: '$(head -1 "$IT_DIR/close-none.err")' / '$(head -1 "$IT_DIR/close-tok.err")'"

for f in "$IT_DIR"/*.err "$IT_DIR"/*.log; do grep -q -- "$TOKEN" "$f" && it_fail "the token in $f"; done
ok "the token appears in no message"
