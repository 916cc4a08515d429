# it_git_auth.sh — a remote's credentials go to its own host only, and an
# authentication failure reads as one (issue 16 item 2, issue 15 item 10):
#  - a remote with a token that redirects (302) to another host (127.0.0.2),
#    on its first request or after accepting the token: not followed, nothing
#    reaches 127.0.0.2, exit 3 with a hint; without a token it is followed;
#    another port of the same host is followed but gets no token;
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
# with credentials, an off-site redirect is not followed at all (libgit2 1.5
# would send the credentials of an authenticated request along without asking)
serve record 127.0.0.2 rec
serve redirect 127.0.0.1 red "http://127.0.0.2:$(cat "$IT_DIR/rec.port")"
run3 redirect MOLCACHE_GIT_TOKEN="$TOKEN" MOLCACHE_REPO_PREFIX="http://127.0.0.1:$(cat "$IT_DIR/red.port")/workspace-template-"
grep -q "info/refs" "$IT_DIR/red.log" || it_fail "the remote was not asked: the test proves nothing"
[ ! -s "$IT_DIR/rec.log" ] || { cat "$IT_DIR/rec.log"; it_fail "a remote with a token was followed to 127.0.0.2"; }
grep -q "^molcache: .*cannot redirect from '127.0.0.1' to '127.0.0.2'" "$IT_DIR/redirect.err" &&
	grep -q "^hint: .*only to its own host" "$IT_DIR/redirect.err" ||
	{ cat "$IT_DIR/redirect.err"; it_fail "redirect: no 'cannot redirect' with a hint"; }
ok "a remote with a token redirecting to 127.0.0.2: not followed, nothing sent there: '$(head -1 "$IT_DIR/redirect.err")'"

# a redirect after the credentials were accepted: not followed either
serve authredirect 127.0.0.1 ared "http://127.0.0.2:$(cat "$IT_DIR/rec.port")"
run3 authredirect MOLCACHE_GIT_TOKEN="$TOKEN" MOLCACHE_REPO_PREFIX="http://127.0.0.1:$(cat "$IT_DIR/ared.port")/workspace-template-"
grep -q "auth=yes" "$IT_DIR/ared.log" || { cat "$IT_DIR/ared.log"; it_fail "the token was never sent: the test proves nothing"; }
[ ! -s "$IT_DIR/rec.log" ] || { cat "$IT_DIR/rec.log"; it_fail "an authenticated request was redirected to 127.0.0.2 (libgit2 sends the token along)"; }
ok "a redirect answering the authenticated request: not followed, the token stays with 127.0.0.1"

# without credentials, the first request's redirect is followed (as git does)
serve redirect 127.0.0.1 red0 "http://127.0.0.2:$(cat "$IT_DIR/rec.port")"
run3 redirect0 MOLCACHE_REPO_PREFIX="http://127.0.0.1:$(cat "$IT_DIR/red0.port")/workspace-template-"
grep -q "info/refs.*auth=no" "$IT_DIR/rec.log" || { cat "$IT_DIR/rec.log"; it_fail "a remote without credentials: its redirect was not followed"; }
ok "a remote without credentials is followed to where it redirects"

# the same host on another port is another server too
serve record 127.0.0.1 rec2
serve redirect 127.0.0.1 red2 "http://127.0.0.1:$(cat "$IT_DIR/rec2.port")"
run3 redirect2 MOLCACHE_GIT_TOKEN="$TOKEN" MOLCACHE_REPO_PREFIX="http://127.0.0.1:$(cat "$IT_DIR/red2.port")/workspace-template-"
grep -q "info/refs" "$IT_DIR/rec2.log" && ! grep -q "auth=yes" "$IT_DIR/rec2.log" ||
	{ cat "$IT_DIR/rec2.log"; it_fail "the token went to another port of the same host"; }
ok "a redirect to another port of the same host: followed (same host), the token withheld"

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
