# it_registry_token.sh — issue 16 item 6: a registry behind a token service
# (Debian's docker-registry with auth.token, tokens signed by a key made here).
# A token the registry refuses as invalid_token (it expired an hour ago) is
# answered once with a fresh one, and the lookup, the engine's push and pull
# go on; a token service whose every token is refused is named as such, with
# a hint, never as "our credentials were refused".
. "$(dirname "$0")/lib.sh"
it_setup
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap 'it_rc=$?; cleanup; it_teardown' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$IT_DIR/key.pem" -out "$IT_DIR/cert.pem" -days 1 \
	-subj /CN=mc-token 2>/dev/null || it_fail "openssl req"
echo 0 >"$IT_DIR/bad"
python3 "$MC_SRC/tests/integration/tokensrv.py" "$IT_DIR/key.pem" "$IT_DIR/cert.pem" "$IT_DIR/tok.port" "$IT_DIR/tok.log" "$IT_DIR/bad" &
PIDS+=($!)
for _ in $(seq 1 50); do [ -s "$IT_DIR/tok.port" ] && break; sleep 0.1; done
port=$(free_port)
mkdir -p "$IT_DIR/reg"
cat >"$IT_DIR/reg.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $IT_DIR/reg
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
auth:
  token:
    realm: http://127.0.0.1:$(cat "$IT_DIR/tok.port")/token
    service: mc-test
    issuer: mc-issuer
    rootcertbundle: $IT_DIR/cert.pem
YML
/usr/bin/docker-registry serve "$IT_DIR/reg.yml" >"$IT_DIR/reg.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/")" = 401 ] && break
	sleep 0.1
done
REG=127.0.0.1:$port/mc
src=$(simple_template codex)
mkrepo codex "$src"

# the engine pushes through the token service too (its own tokens)
tag=$(mc ensure codex --network none --registry "$REG" --registry-required -q 2>"$IT_DIR/a.err") || { cat "$IT_DIR/a.err"; it_fail "ensure A"; }
[ "$(counter pushes)" = 1 ] || { cat "$IT_DIR/a.err" "$IT_DIR/reg.log"; it_fail "A did not push through the token registry"; }
! grep -q warning "$IT_DIR/a.err" || { cat "$IT_DIR/a.err"; it_fail "warnings on a first push (no repository yet is not a fault)"; }
ok "a build is pushed to a registry behind a token service"

# host B: its first token has expired; the registry says invalid_token; one fresh token, then the hit
echo 1 >"$IT_DIR/bad"
: >"$IT_DIR/tok.log"
export MOLCACHE_HOME=$IT_DIR/cacheB
tagB=$(mc ensure codex --network none --registry "$REG" --registry-required -q 2>"$IT_DIR/b.err") || { cat "$IT_DIR/b.err"; it_fail "ensure B"; }
[ "$tagB" = "$tag" ] || it_fail "B printed $tagB, A $tag"
grep -q "^token expired" "$IT_DIR/tok.log" && [ "$(grep -c "^token good" "$IT_DIR/tok.log")" -ge 1 ] ||
	{ cat "$IT_DIR/tok.log"; it_fail "no expired token then a good one"; }
[ "$(counter registry_hits)" = 1 ] || { cat "$IT_DIR/b.err"; it_fail "registry_hits $(counter registry_hits), want 1"; }
! grep -q warning "$IT_DIR/b.err" || { cat "$IT_DIR/b.err"; it_fail "a warning for a token refreshed once"; }
ok "an expired token (invalid_token) is answered with one fresh token: B's ensure is a registry hit, no warning"

# every token refused: said as such, 2 tokens asked, exit 3 with the hint
echo all >"$IT_DIR/bad"
: >"$IT_DIR/tok.log"
rc=0
MOLCACHE_REGISTRY=$REG mc gc --registry --max-age 1s --dry-run >/dev/null 2>"$IT_DIR/c.err" || rc=$?
[ $rc = 3 ] || { cat "$IT_DIR/c.err"; it_fail "gc --registry with every token refused: exit $rc, want 3"; }
grep -q "^molcache: registry '127.0.0.1:$port': it refused the token its token service gave, twice (invalid_token" "$IT_DIR/c.err" &&
	grep -q "^hint: .*clocks" "$IT_DIR/c.err" || { cat "$IT_DIR/c.err"; it_fail "not named as a refused token"; }
[ "$(grep -c "^token" "$IT_DIR/tok.log")" = 2 ] || { cat "$IT_DIR/tok.log"; it_fail "not exactly 2 tokens asked"; }
ok "every token refused: '$(head -1 "$IT_DIR/c.err")' after exactly 2 tokens, exit 3"
