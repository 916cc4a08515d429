# it_registry.sh — fleet sharing through a registry (issue 11, docs/fleet.md).
# Two hosts: A is the fixture's dockerd with cache root rootA; B is a second
# private dockerd started here (engine.sh in its own directory) with rootB.
# Two Debian docker-registry instances on 127.0.0.1: R1 without auth, R2 with
# htpasswd basic auth.
#  - A builds and pushes <R1>/mc/claude-code:<key>; B's ensure of the same
#    commit pulls it, builds nothing (counters), prints the same tag, same id.
#  - A forged image under a key's tag (other labels) is refused, removed by
#    name, and built locally.
#  - R1 stopped: B builds locally with one warning, exit 0; with
#    --registry-required exit 3 and a hint.
#  - R2 (basic auth): without credentials one warning and a local build; with
#    MOLCACHE_REGISTRY_USER/PASSWORD A pushes, B pulls with ~/.docker/config.json.
#  - Partial sharing: B builds commit 2 reusing A's layers of commit 1 (CACHED).
#  - MOLECULE_IMAGE_REGISTRY compat mode pulls workspace-template-<rt>:latest.
#  - gc --registry --max-age deletes old remote tags molcache made (--dry-run first).
#  - No credential in any output or any file under either cache root.
. "$(dirname "$0")/lib.sh"
it_setup
export MOLCACHE_RUNTIMES=claude-code,codex,crewai,hermes,autogen,langgraph
A_HOST=$DOCKER_HOST
BASE_REG=$MC_REGISTRY
PASS="s3cret-Pa55-$RANDOM$RANDOM"
USER_NAME=fleetuser
R_PIDS=()

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_reg NAME [htpasswd-file]: a docker-registry on a free port; echoes host:port
start_reg() {
	local name=$1 htp=${2:-} port d=$IT_DIR/$1 i
	port=$(free_port)
	mkdir -p "$d/data"
	{
		printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n' "$d/data" "$port"
		[ -n "$htp" ] && printf 'auth:\n  htpasswd:\n    realm: molcache-test\n    path: %s\n' "$htp"
	} >"$d/config.yml"
	setsid /usr/bin/docker-registry serve "$d/config.yml" </dev/null >>"$d/log" 2>&1 &
	echo $! >"$d/pid"
	for ((i = 0; i < 300; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/v2/" || true)
		[ "$code" = 200 ] || [ "$code" = 401 ] && break
		sleep 0.1
	done
	((i < 300)) || { tail "$d/log" >&2; it_fail "registry $name did not start"; }
	echo "127.0.0.1:$port"
}
stop_reg() { [ -f "$IT_DIR/$1/pid" ] && kill "$(cat "$IT_DIR/$1/pid")" 2>/dev/null || true; rm -f "$IT_DIR/$1/pid"; sleep 0.3; }

cleanup() {
	for r in r1 r2; do stop_reg "$r"; done
	for m in 5xx hang tok; do [ -f "$IT_DIR/$m.pid" ] && kill "$(cat "$IT_DIR/$m.pid")" 2>/dev/null || true; done
	MC_ENGINE_DIR=$IT_DIR/engB bash "$MC_SRC/tests/integration/engine.sh" stop >/dev/null 2>&1 || true
}
trap 'it_rc=$?; cleanup; it_teardown' EXIT

# ---- two registries, host B ------------------------------------------------------
R1=$(start_reg r1)
python3 -c 'import crypt,sys; print("%s:%s" % (sys.argv[1], crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH))))' \
	"$USER_NAME" "$PASS" >"$IT_DIR/htpasswd" 2>/dev/null
R2=$(start_reg r2 "$IT_DIR/htpasswd")
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$R2/v2/")" = 401 ] || it_fail "R2 does not ask for credentials"
[ "$(curl -s -o /dev/null -w '%{http_code}' -u "$USER_NAME:$PASS" "http://$R2/v2/")" = 200 ] || it_fail "R2 refuses the test credentials"
mkdir -p "$IT_DIR/engB"
MC_ENGINE_DIR=$IT_DIR/engB bash "$MC_SRC/tests/integration/engine.sh" start >"$IT_DIR/engB.out" 2>&1 || { cat "$IT_DIR/engB.out"; it_fail "host B's dockerd did not start"; }
B_HOST=$(sed -n 's/^DOCKER_HOST=//p' "$IT_DIR/engB/env")
B_SOCK=${B_HOST#unix://}
ok "two registries (R1 open, R2 basic auth) and two engines (A $A_HOST, B $B_HOST)"

hostA() { DOCKER_HOST=$A_HOST MOLCACHE_HOME=$IT_DIR/rootA "$MOLCACHE" "$@"; }
hostB() { DOCKER_HOST=$B_HOST MOLCACHE_HOME=$IT_DIR/rootB "$MOLCACHE" "$@"; }
cnt() { sqlite3 "$IT_DIR/root$1/index.db" "SELECT coalesce((SELECT value FROM counters WHERE name='$2'),0)"; }
b_get() { curl -sf --unix-socket "$B_SOCK" "http://d$1"; }
b_id() { b_get "/images/$1/json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Id"])'; }
b_exists() { [ "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$B_SOCK" "http://d/images/$1/json")" = 200 ]; }
run() { # run WANT_RC NAME CMD...: stdout NAME.out, stderr NAME.err
	local want=$1 name=$2; shift 2
	set +e; "$@" >"$IT_DIR/$name.out" 2>"$IT_DIR/$name.err"; local rc=$?; set -e
	[ "$rc" = "$want" ] || { cat "$IT_DIR/$name.out" "$IT_DIR/$name.err"; it_fail "$name: exit $rc, want $want"; }
}
warnings() { grep -c 'warning' "$IT_DIR/$1.err" || true; }

# ---- exact sharing: A builds and pushes, B pulls ------------------------------------
mkrepo claude-code "$(simple_template claude-code)"
run 0 a1 hostA ensure claude-code --network none --registry "$R1/mc"
tagA=$(cat "$IT_DIR/a1.out")
key=$(sqlite3 "$IT_DIR/rootA/index.db" "SELECT key FROM entries")
grep -q "push: pushed $R1/mc/claude-code:$key sha256:" "$IT_DIR/a1.err" || { cat "$IT_DIR/a1.err"; it_fail "A reported no push outcome"; }
[ "$(cnt A builds)" = 1 ] && [ "$(cnt A pushes)" = 1 ] && [ "$(cnt A registry_misses)" = 1 ] || it_fail "A: builds $(cnt A builds), pushes $(cnt A pushes)"
curl -sf "http://$R1/v2/mc/claude-code/tags/list" | grep -q "\"$key\"" || it_fail "the full key is not a tag in R1"
image_exists "$R1/mc/claude-code:$key" && it_fail "A kept the remote name as a local tag"
ok "A builds, pushes $R1/mc/claude-code:<64-hex key> with progress and outcome; the remote name is not kept locally"

run 0 b1 hostB ensure claude-code --network none --registry "$R1/mc"
[ "$(cat "$IT_DIR/b1.out")" = "$tagA" ] || it_fail "B printed $(cat "$IT_DIR/b1.out"), A $tagA"
[ "$(b_id "$tagA")" = "$(image_id "$tagA")" ] || it_fail "image ids differ: B $(b_id "$tagA"), A $(image_id "$tagA")"
[ "$(cnt B builds)" = 0 ] && [ "$(cnt B registry_hits)" = 1 ] && [ "$(cnt B misses)" = 0 ] || it_fail "B: builds $(cnt B builds), registry_hits $(cnt B registry_hits)"
[ -z "$(ls -A "$IT_DIR/rootB/logs" 2>/dev/null)" ] || it_fail "B wrote a build log"
b_exists "$R1/mc/claude-code:$key" && it_fail "B kept the remote name"
run 0 b1again hostB ensure claude-code --network none --registry "$R1/mc"
[ "$(cnt B hits)" = 1 ] && [ "$(cnt B builds)" = 0 ] || it_fail "B's second ensure was not a local hit"
ok "B pulls instead of building: same tag, same image id, builds 0, registry_hits 1, no build log; the next ensure is a local hit"

# views: origin and counters
hostB ls --json | python3 -c 'import json,sys; d=json.load(sys.stdin); e=d["entries"][0]; assert e["origin"]=="pulled", e' || it_fail "ls --json: origin"
hostA ls --json | python3 -c 'import json,sys; d=json.load(sys.stdin); e=d["entries"][0]; assert e["origin"]=="built", e' || it_fail "ls --json: origin built"
hostB ls | grep -q pulled || it_fail "ls: no origin column"
hostB show claude-code | grep -q "origin: *pulled" || it_fail "show: no origin"
hostB status --json | python3 -c 'import json,sys; c=json.load(sys.stdin)["counters"]; assert c["registry_hits"]==1 and c["pushes"]==0, c' || it_fail "status --json counters"
hostA status --json | python3 -c 'import json,sys; c=json.load(sys.stdin)["counters"]; assert c["pushes"]==1 and c["registry_misses"]==1, c' || it_fail "status --json counters A"
hostB status --format prometheus | grep -q '^molcache_registry_hits_total 1$' || it_fail "prometheus: registry hits"
hostA status --format prometheus | grep -q '^molcache_pushes_total 1$' || it_fail "prometheus: pushes"
hostB status | grep -q "registry: *1 hits, 0 misses" || it_fail "status text: registry line"
ok "ls, show, status (text, JSON, prometheus) say built/pulled and count pushes, registry hits and misses"

# ---- bearer-token auth: a token service in front of R1 --------------------------------
cat >"$IT_DIR/tokenproxy.py" <<'PY'
# A registry front with token auth: /v2/* wants "Bearer <token>", else 401 with a
# Bearer challenge whose realm is /token here; /token wants basic credentials.
import base64, http.server, sys, urllib.request
upstream, user, pw, port_file, log = sys.argv[1:6]
TOKEN = "tok-" + base64.b16encode(pw.encode()).decode()[:6]
def note(s): open(log, "a").write(s + "\n")
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def send(self, code, headers=(), body=b""):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def handle_any(self):
        a = self.headers.get("Authorization", "")
        if self.path.startswith("/token"):
            ok = a == "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
            note("token %s %s" % ("basic-ok" if ok else "refused", self.path.split("?", 1)[-1]))
            return self.send(200, [("Content-Type", "application/json")], ('{"token":"%s"}' % TOKEN).encode()) if ok else self.send(401)
        if a != "Bearer " + TOKEN:
            note("challenge %s %s" % (self.command, self.path))
            realm = "http://127.0.0.1:%d/token" % self.server.server_address[1]
            return self.send(401, [("WWW-Authenticate", 'Bearer realm="%s",service="test-registry",scope="repository:mc/x:pull"' % realm)])
        note("bearer %s %s" % (self.command, self.path))
        req = urllib.request.Request(upstream + self.path, method=self.command,
                                     headers={"Accept": ", ".join(self.headers.get_all("Accept") or [])})
        try:
            r = urllib.request.urlopen(req); code = r.status
        except urllib.error.HTTPError as e:
            r = e; code = e.code
        body = r.read() if self.command != "HEAD" else b""
        hs = [(k, v) for k, v in r.headers.items() if k.lower() in ("content-type", "docker-content-digest", "docker-distribution-api-version")]
        self.send_response(code)
        for k, v in hs: self.send_header(k, v)
        self.send_header("Content-Length", r.headers.get("Content-Length", str(len(body))) if self.command == "HEAD" else str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    do_GET = do_HEAD = handle_any
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(port_file, "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY
python3 "$IT_DIR/tokenproxy.py" "http://$R1" "$USER_NAME" "$PASS" "$IT_DIR/tok.port" "$IT_DIR/tok.log" & echo $! >"$IT_DIR/tok.pid"
for ((i = 0; i < 100; i++)); do [ -s "$IT_DIR/tok.port" ] && break; sleep 0.1; done
RT=127.0.0.1:$(cat "$IT_DIR/tok.port")
hostC() { DOCKER_HOST=$B_HOST MOLCACHE_HOME=$IT_DIR/rootC "$MOLCACHE" "$@"; }
MOLCACHE_REGISTRY_USER=$USER_NAME MOLCACHE_REGISTRY_PASSWORD=$PASS run 0 c1 hostC ensure claude-code --network none --registry "$RT/mc"
[ "$(cat "$IT_DIR/c1.out")" = "$tagA" ] || it_fail "bearer: printed $(cat "$IT_DIR/c1.out")"
[ "$(b_id "$tagA")" = "$(image_id "$tagA")" ] || it_fail "bearer: the image id changed"
[ "$(cnt C registry_hits)" = 1 ] && [ "$(cnt C builds)" = 0 ] || { cat "$IT_DIR/c1.err"; it_fail "bearer: hits $(cnt C registry_hits), builds $(cnt C builds)"; }
grep -q "^challenge HEAD /v2/mc/claude-code/manifests/$key" "$IT_DIR/tok.log" || it_fail "no challenge seen"
grep -q "^token basic-ok .*service=test-registry" "$IT_DIR/tok.log" || { cat "$IT_DIR/tok.log"; it_fail "no token fetched with basic credentials"; }
grep -q "^bearer HEAD /v2/mc/claude-code/manifests/$key" "$IT_DIR/tok.log" || it_fail "no HEAD with the bearer token"
kill "$(cat "$IT_DIR/tok.pid")" 2>/dev/null || true
ok "bearer-token auth: 401 Bearer challenge → token from the realm with basic credentials → HEAD with the token; the engine pulls through it too"

# ---- a forged image under a key's tag is refused -------------------------------------
mkrepo codex "$(simple_template codex)"
ckey=$(hostB explain codex --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
[ ${#ckey} = 64 ] || it_fail "explain gave no key"
mkdir -p "$IT_DIR/forge"
printf 'FROM %s\nLABEL molcache.key=%s molcache.runtime=codex\n' "$MC_BASE_IMAGE" "$key" >"$IT_DIR/forge/Dockerfile"
tar -C "$IT_DIR/forge" -cf "$IT_DIR/forge.tar" Dockerfile
curl -sf --unix-socket "$(engine_sock)" -X POST -H 'Content-Type: application/x-tar' --data-binary @"$IT_DIR/forge.tar" \
	"http://d/build?t=$(urlenc "$R1/mc/codex:$ckey")" >"$IT_DIR/forge.out" || it_fail "forge build"
curl -sf --unix-socket "$(engine_sock)" -X POST -H 'X-Registry-Auth: e30=' "http://d/images/$(urlenc "$R1/mc/codex")/push?tag=$ckey" >"$IT_DIR/forge.push" || it_fail "forge push"
grep -q '"error"' "$IT_DIR/forge.push" && it_fail "forge push: $(cat "$IT_DIR/forge.push")"
engine_req DELETE "/images/$(urlenc "$R1/mc/codex:$ckey")" >/dev/null
run 0 b2 hostB ensure codex --network none --registry "$R1/mc"
grep -q "registry image for key $ckey carries key $key, ignored" "$IT_DIR/b2.err" || { cat "$IT_DIR/b2.err"; it_fail "no refusal warning"; }
[ "$(cnt B builds)" = 1 ] && [ "$(cnt B registry_refused)" = 1 ] || it_fail "B: builds $(cnt B builds), refused $(cnt B registry_refused)"
[ "$(b_get "/images/$(cat "$IT_DIR/b2.out")/json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Config"]["Labels"]["molcache.key"])')" = "$ckey" ] || it_fail "B serves the wrong image"
b_exists "$R1/mc/codex:$ckey" && it_fail "the forged copy stayed on B"
ok "an image forged under a key's tag (other labels) is refused with a warning, removed by name, and built locally"

# ---- registry stopped: one warning, local build, exit 0; required: exit 3 ---------------
stop_reg r1
commit codex README "second"
run 0 b3 hostB ensure codex --network none --registry "$R1/mc"
[ "$(warnings b3)" = 1 ] || { cat "$IT_DIR/b3.err"; it_fail "want exactly one warning"; }
grep -q "registry lookup: registry '$R1'" "$IT_DIR/b3.err" || { cat "$IT_DIR/b3.err"; it_fail "the warning does not name the registry"; }
[ "$(cnt B builds)" = 2 ] && [ "$(cnt B registry_errors)" = 1 ] || it_fail "B: builds $(cnt B builds), registry_errors $(cnt B registry_errors)"
commit codex README "third"
run 3 b4 hostB ensure codex --network none --registry "$R1/mc" --registry-required
grep -q '^hint: .*registry' "$IT_DIR/b4.err" || { cat "$IT_DIR/b4.err"; it_fail "no hint"; }
[ "$(cnt B builds)" = 2 ] || it_fail "--registry-required built anyway"
ok "registry down: one warning and a local build (exit 0); --registry-required: exit 3 with a hint, nothing built"

# a registry that answers 5xx, and one that accepts and never answers: one warning each, bounded
cat >"$IT_DIR/badreg.py" <<'PY'
import http.server, socket, sys, time
mode, port_file = sys.argv[1], sys.argv[2]
if mode == "hang":
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
    open(port_file, "w").write(str(s.getsockname()[1]))
    conns = []
    while True:
        c, _ = s.accept(); conns.append(c)   # never answers
class H(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self): self.send_response(503); self.send_header("Content-Length", "0"); self.end_headers()
    do_GET = do_HEAD
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
open(port_file, "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY
for m in 5xx hang; do
	rm -f "$IT_DIR/$m.port"
	python3 "$IT_DIR/badreg.py" "$m" "$IT_DIR/$m.port" & echo $! >"$IT_DIR/$m.pid"
	for ((i = 0; i < 100; i++)); do [ -s "$IT_DIR/$m.port" ] && break; sleep 0.1; done
done
commit codex README "5xx"
run 0 b5 hostB ensure codex --network none --registry "127.0.0.1:$(cat "$IT_DIR/5xx.port")/mc"
[ "$(warnings b5)" = 1 ] && grep -q "answered HTTP 503" "$IT_DIR/b5.err" || { cat "$IT_DIR/b5.err"; it_fail "5xx: want one warning"; }
commit codex README "hang"
t0=$(date +%s)
run 0 b5h hostB ensure codex --network none --registry "127.0.0.1:$(cat "$IT_DIR/hang.port")/mc"
t1=$(date +%s)
[ "$(warnings b5h)" = 1 ] || { cat "$IT_DIR/b5h.err"; it_fail "hang: want one warning"; }
[ $((t1 - t0)) -lt 60 ] || it_fail "a silent registry held ensure $((t1 - t0)) s"
kill "$(cat "$IT_DIR/5xx.pid")" "$(cat "$IT_DIR/hang.pid")" 2>/dev/null || true
[ "$(cnt B builds)" = 4 ] || it_fail "B: builds $(cnt B builds), want 4"
ok "a registry answering 503, and one that never answers (given up after $((t1 - t0)) s), each cost one warning and a local build"

# ---- basic auth (R2) ---------------------------------------------------------------------
mkrepo crewai "$(simple_template crewai)"
run 0 a5 hostA ensure crewai --network none --registry "$R2/team/mc"
[ "$(warnings a5)" = 1 ] && grep -q "wants credentials" "$IT_DIR/a5.err" || { cat "$IT_DIR/a5.err"; it_fail "no credentials: want one warning"; }
commit crewai README "auth"
MOLCACHE_REGISTRY_USER=$USER_NAME MOLCACHE_REGISTRY_PASSWORD=$PASS run 0 a6 hostA ensure crewai --network none --registry "$R2/team/mc"
grep -q "push: pushed $R2/team/mc/crewai:" "$IT_DIR/a6.err" || { cat "$IT_DIR/a6.err"; it_fail "A did not push to R2"; }
mkdir -p "$IT_DIR/dockercfg"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$R2" "$(printf '%s:%s' "$USER_NAME" "$PASS" | base64 -w0)" >"$IT_DIR/dockercfg/config.json"
DOCKER_CONFIG=$IT_DIR/dockercfg MOLCACHE_REGISTRY=$R2/team/mc run 0 b6 hostB ensure crewai --network none
[ "$(cat "$IT_DIR/b6.out")" = "$(cat "$IT_DIR/a6.out")" ] || it_fail "B and A differ on R2"
[ "$(b_id "$(cat "$IT_DIR/b6.out")")" = "$(image_id "$(cat "$IT_DIR/a6.out")")" ] || it_fail "image ids differ on R2"
ok "R2 with basic auth: no credentials is one warning and a local build; env credentials push, docker config.json credentials pull"

# ---- partial sharing: B reuses A's layers of the previous commit -------------------------
EXPENSIVE_S=${MC_FLEET_EXPENSIVE_S:-8} # bench: 30 (docs/benchmarks.md)
d=$IT_DIR/src-hermes; mkdir -p "$d"
cat >"$d/Dockerfile" <<DF
FROM $BASE_REG/mc/busybox:1.0
RUN sleep ${EXPENSIVE_S} && dd if=/dev/urandom of=/big bs=1M count=16 2>/dev/null && echo expensive
COPY . /ctx
RUN echo done > /done.txt
DF
mkrepo hermes "$d"
t0=$(date +%s%N)
MOLCACHE_REGISTRY_USER=$USER_NAME MOLCACHE_REGISTRY_PASSWORD=$PASS run 0 a7 hostA ensure hermes --network none --registry "$R2/team/mc"
a_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -q "push: pushed $R2/team/mc/hermes:" "$IT_DIR/a7.err" || { cat "$IT_DIR/a7.err"; it_fail "A did not push hermes"; }
commit hermes README "next commit"
t0=$(date +%s%N)
DOCKER_CONFIG=$IT_DIR/dockercfg run 0 b7 hostB ensure hermes --network none --registry "$R2/team/mc" --log-format json
b_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "partial sharing: A cold $a_ms ms, B with A's layers $b_ms ms"
python3 - "$IT_DIR/b7.err" <<'PY' || { cat "$IT_DIR/b7.err" | tail -30; it_fail "B did not reuse the expensive step"; }
import json, sys
steps = {}
for line in open(sys.argv[1]):
    try: ev = json.loads(line)
    except ValueError: continue
    if ev.get("event") == "step": steps[ev["step"]] = ev["state"]
exp = [s for s in steps if "expensive" in s]
assert exp and steps[exp[0]] == "cached", steps
PY
[ "$(cnt B builds)" -ge 3 ] || it_fail "B did not build"
ok "partial sharing: B's build of the next commit reports A's expensive step CACHED (A cold $a_ms ms, B $b_ms ms)"

# ---- MOLECULE_IMAGE_REGISTRY compatibility mode ------------------------------------------
engine_req POST "/images/$(urlenc "$MC_BASE_IMAGE")/tag?repo=$(urlenc "$R2/seed/workspace-template-autogen")&tag=latest" >/dev/null
XA=$(printf '{"username":"%s","password":"%s","serveraddress":"%s"}' "$USER_NAME" "$PASS" "$R2" | base64 -w0 | tr '+/' '-_')
curl -sf --unix-socket "$(engine_sock)" -X POST -H "X-Registry-Auth: $XA" "http://d/images/$(urlenc "$R2/seed/workspace-template-autogen")/push?tag=latest" >"$IT_DIR/seed.push" || it_fail "seed push"
grep -q '"error"' "$IT_DIR/seed.push" && it_fail "seed push: $(cat "$IT_DIR/seed.push")"
engine_req DELETE "/images/$(urlenc "$R2/seed/workspace-template-autogen:latest")" >/dev/null
builds_before=$(cnt B builds)
DOCKER_CONFIG=$IT_DIR/dockercfg MOLECULE_IMAGE_REGISTRY=$R2/seed run 0 b8 hostB ensure autogen
[ "$(cat "$IT_DIR/b8.out")" = "molcache/autogen:latest" ] || it_fail "compat: printed $(cat "$IT_DIR/b8.out")"
b_exists molcache/autogen:latest || it_fail "compat: no :latest alias"
[ "$(cnt B builds)" = "$builds_before" ] && [ "$(cnt B compat_pulls)" = 1 ] || it_fail "compat built something"
ok "MOLECULE_IMAGE_REGISTRY: pulls <registry>/workspace-template-<rt>:latest, tags molcache/<rt>:latest, builds nothing"

# ---- gc --registry ---------------------------------------------------------------------------
n_before=$(curl -sf -u "$USER_NAME:$PASS" "http://$R2/v2/team/mc/hermes/tags/list" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tags"] or []))')
run 0 glocal hostA gc --max-age 1s --include-latest
[ "$(sqlite3 "$IT_DIR/rootA/index.db" "SELECT count(*) FROM entries WHERE runtime='hermes'")" = 0 ] || it_fail "local gc kept hermes"
[ "$(curl -sf -u "$USER_NAME:$PASS" "http://$R2/v2/team/mc/hermes/tags/list" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tags"] or []))')" = "$n_before" ] || it_fail "local gc touched the registry"
run 0 glocalb hostB gc --max-age 1s --include-latest
b_exists "$tagA" && it_fail "B's gc kept the pulled image (another root's label)"
[ "$(sqlite3 "$IT_DIR/rootB/index.db" "SELECT count(*) FROM entries WHERE runtime='claude-code'")" = 0 ] || it_fail "B's gc kept the row"
ok "local gc evicts A's entries and B's pulled ones, and leaves the registry's tags alone"
MOLCACHE_REGISTRY_USER=$USER_NAME MOLCACHE_REGISTRY_PASSWORD=$PASS MOLCACHE_REGISTRY=$R2/team/mc run 0 g1 hostA gc --registry --max-age 1s --dry-run
grep -q "would delete $R2/team/mc/hermes:" "$IT_DIR/g1.out" || { cat "$IT_DIR/g1.out"; it_fail "gc --registry --dry-run listed nothing"; }
curl -sf -u "$USER_NAME:$PASS" "http://$R2/v2/team/mc/hermes/tags/list" | grep -q '"[0-9a-f]\{64\}"' || it_fail "dry run deleted"
MOLCACHE_REGISTRY_USER=$USER_NAME MOLCACHE_REGISTRY_PASSWORD=$PASS MOLCACHE_REGISTRY=$R2/team/mc run 0 g2 hostA gc --registry --max-age 30d
grep -q "deleted 0" "$IT_DIR/g2.out" || { cat "$IT_DIR/g2.out"; it_fail "30d deleted young tags"; }
MOLCACHE_REGISTRY_USER=$USER_NAME MOLCACHE_REGISTRY_PASSWORD=$PASS MOLCACHE_REGISTRY=$R2/team/mc run 0 g3 hostA gc --registry --max-age 1s
curl -s -u "$USER_NAME:$PASS" "http://$R2/v2/team/mc/hermes/tags/list" | grep -q '"[0-9a-f]\{64\}"' && it_fail "gc --registry left molcache's tags"
ok "gc --registry --max-age deletes remote tags molcache made (dry run first; 30d keeps young ones)"

# ---- no credential anywhere --------------------------------------------------------------------
B64=$(printf '%s:%s' "$USER_NAME" "$PASS" | base64 -w0)
for f in "$IT_DIR"/*.out "$IT_DIR"/*.err; do
	grep -qF -e "$PASS" -e "$B64" -e "$XA" "$f" && it_fail "a credential in $f"
done
grep -rqF -e "$PASS" -e "$B64" "$IT_DIR/rootA" "$IT_DIR/rootB" && it_fail "a credential under a cache root"
ok "no credential in any output or any file under either cache root"
