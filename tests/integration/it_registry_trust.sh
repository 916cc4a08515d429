# it_registry_trust.sh — what molcache's registry client trusts and what gc
# --registry removes (issue 16 items 2, 3, 5), on Debian's docker-registry:
#  - a Bearer challenge whose realm is another host (127.0.0.2, plain http):
#    the credentials are withheld (the realm records no Authorization);
#  - a TLS registry with a private CA on 127.0.0.1: without MOLCACHE_CA_FILE a
#    hint naming it; with it the lookups and gc --registry work (the one CA
#    setting git uses too); written without https:// a hint to write it. The
#    engine itself would need /etc/docker/certs.d/<host:port>/ca.crt to pull or
#    push there, which a test cannot give the fixture's dockerd: the engine's
#    push to it fails (a warning) and is not what is tested;
#  - gc --registry deletes a molcache tag and nothing else: Distribution 2.x
#    cannot delete a tag alone (400 DIGEST_INVALID), so a digest that another
#    tag names ("stable2") is kept ("kept …: also tagged stable2", text and
#    JSON), and deleted once no other tag names it; deletes disabled (405)
#    keep the storage.delete.enabled hint; where a registry deletes a tag
#    alone (a front that does what Distribution 3 does, on the same storage),
#    only the tag goes.
. "$(dirname "$0")/lib.sh"
it_setup
PASS="s3cret-Pa55-$RANDOM$RANDOM"
PIDS=()
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_reg NAME PORT [tls|nodelete]: a docker-registry on the shared storage $IT_DIR/data
start_reg() {
	local name=$1 port=$2 mode=${3:-} d=$IT_DIR/$1 i scheme=http
	mkdir -p "$d" "$IT_DIR/data"
	{
		printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n' "$IT_DIR/data"
		printf '  delete:\n    enabled: %s\n' "$([ "$mode" = nodelete ] && echo false || echo true)"
		printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
		[ "$mode" = tls ] && printf '  tls:\n    certificate: %s\n    key: %s\n' "$IT_DIR/srv.pem" "$IT_DIR/srv.key"
	} >"$d/config.yml"
	[ "$mode" = tls ] && scheme=https
	setsid /usr/bin/docker-registry serve "$d/config.yml" </dev/null >>"$d/log" 2>&1 &
	PIDS+=($!)
	for ((i = 0; i < 300; i++)); do
		[ "$(curl -s --cacert "$IT_DIR/ca.pem" -o /dev/null -w '%{http_code}' --max-time 2 "$scheme://127.0.0.1:$port/v2/" || true)" = 200 ] && break
		sleep 0.1
	done
	((i < 300)) || { tail "$d/log" >&2; it_fail "registry $name did not start"; }
}
serve() { # MODE HOST NAME [TARGET]: authsrv.py
	python3 "$MC_SRC/tests/integration/authsrv.py" "$1" "$2" "$IT_DIR/$3.port" "$IT_DIR/$3.log" ${4:+"$4"} &
	PIDS+=($!)
	for _ in $(seq 1 100); do [ -s "$IT_DIR/$3.port" ] && break; sleep 0.05; done
	[ -s "$IT_DIR/$3.port" ] || it_fail "authsrv $1 did not start"
}
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap 'it_rc=$?; cleanup; it_teardown' EXIT
run() { # WANT_RC NAME CMD…: stdout NAME.out, stderr NAME.err
	local want=$1 name=$2 rc=0; shift 2
	"$@" >"$IT_DIR/$name.out" 2>"$IT_DIR/$name.err" || rc=$?
	[ "$rc" = "$want" ] || { cat "$IT_DIR/$name.out" "$IT_DIR/$name.err"; it_fail "$name: exit $rc, want $want"; }
}
cnt() { sqlite3 "$MOLCACHE_HOME/index.db" "SELECT coalesce((SELECT value FROM counters WHERE name='$1'),0)"; }
creds() { env MOLCACHE_REGISTRY_USER=fleetuser MOLCACHE_REGISTRY_PASSWORD="$PASS" "$@"; }

# ---- a token realm on another host gets no credentials ----------------------------------------
serve record 127.0.0.2 realm
serve bearer 127.0.0.1 front "http://127.0.0.2:$(cat "$IT_DIR/realm.port")/token"
run 3 realm creds MOLCACHE_REGISTRY="127.0.0.1:$(cat "$IT_DIR/front.port")/mc" "$MOLCACHE" gc --registry --max-age 1s --dry-run
grep -q "^GET /token" "$IT_DIR/realm.log" || it_fail "the realm was not asked: the test proves nothing"
! grep -q "auth=yes" "$IT_DIR/realm.log" || { cat "$IT_DIR/realm.log"; it_fail "credentials went to the realm on 127.0.0.2 (plain http, another host)"; }
grep -q "^molcache: .*credentials withheld from the token realm 'http://127.0.0.2:" "$IT_DIR/realm.err" &&
	grep -q "^hint: .*https" "$IT_DIR/realm.err" || { cat "$IT_DIR/realm.err"; it_fail "realm: no 'credentials withheld' with a hint"; }
ok "a Bearer realm on 127.0.0.2 over plain http gets no credentials: '$(head -1 "$IT_DIR/realm.err")'"

# ---- a TLS registry with a private CA --------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$IT_DIR/ca.key" -out "$IT_DIR/ca.pem" -days 2 -subj /CN=molcache-test-ca >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout "$IT_DIR/srv.key" -out "$IT_DIR/srv.csr" -subj /CN=127.0.0.1 >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\n' >"$IT_DIR/san.ext"
openssl x509 -req -in "$IT_DIR/srv.csr" -CA "$IT_DIR/ca.pem" -CAkey "$IT_DIR/ca.key" -CAcreateserial -days 2 \
	-extfile "$IT_DIR/san.ext" -out "$IT_DIR/srv.pem" >/dev/null 2>&1 || it_fail "openssl: no server certificate"
PR=$(free_port) PT=$(free_port) PN=$(free_port)
start_reg plain "$PR"
start_reg tls "$PT" tls
start_reg nodelete "$PN" nodelete
R=127.0.0.1:$PR RT=https://127.0.0.1:$PT
unset MOLCACHE_CA_FILE GIT_SSL_CAINFO
run 3 tls-noca env MOLCACHE_REGISTRY="$RT/mc" "$MOLCACHE" gc --registry --max-age 1s --dry-run
grep -q "^hint: .*MOLCACHE_CA_FILE.*/etc/docker/certs.d/127.0.0.1:$PT/ca.crt" "$IT_DIR/tls-noca.err" ||
	{ cat "$IT_DIR/tls-noca.err"; it_fail "untrusted TLS registry: no MOLCACHE_CA_FILE hint"; }
run 0 tls-ca env MOLCACHE_CA_FILE="$IT_DIR/ca.pem" MOLCACHE_REGISTRY="$RT/mc" "$MOLCACHE" gc --registry --max-age 1s --dry-run
run 3 tls-nohttps env MOLCACHE_REGISTRY="127.0.0.1:$PT/mc" "$MOLCACHE" gc --registry --max-age 1s --dry-run
grep -q "answered HTTP 400" "$IT_DIR/tls-nohttps.err" && grep -q "^hint: .*write it https://127.0.0.1:$PT/mc" "$IT_DIR/tls-nohttps.err" ||
	{ cat "$IT_DIR/tls-nohttps.err"; it_fail "TLS registry written without https://: no hint"; }
ok "a TLS registry with a private CA: a MOLCACHE_CA_FILE hint (and certs.d for the engine) without it, gc --registry works with it, a hint to write https://"

# ensure: the lookup over TLS with the CA file is a miss, not a registry error; without https:// the warning has the hint
mkrepo codex "$(simple_template codex)"
run 0 e-nohttps env MOLCACHE_REGISTRY="127.0.0.1:$PT/mc" "$MOLCACHE" ensure codex --network none
grep -q "warning: registry lookup: .*answered HTTP 400; building locally (hint: if the registry speaks TLS, write it https://" "$IT_DIR/e-nohttps.err" ||
	{ cat "$IT_DIR/e-nohttps.err"; it_fail "ensure: the HTTP 400 warning has no https:// hint"; }
commit codex README tls
run 0 e-tls env MOLCACHE_CA_FILE="$IT_DIR/ca.pem" MOLCACHE_REGISTRY="$RT/mc" "$MOLCACHE" ensure codex --network none
! grep -q "registry lookup" "$IT_DIR/e-tls.err" && [ "$(cnt registry_misses)" = 1 ] ||
	{ cat "$IT_DIR/e-tls.err"; it_fail "ensure over TLS with MOLCACHE_CA_FILE: the lookup failed (misses $(cnt registry_misses))"; }
ok "ensure: HEAD over TLS with MOLCACHE_CA_FILE is a clean miss; written without https:// the warning carries the hint"

# ---- gc --registry deletes a tag, never another tag's manifest -------------------------------------
commit codex README share
run 0 push env MOLCACHE_REGISTRY="$R/mc" "$MOLCACHE" ensure codex --network none
key=$(sed -n "s|.*push: pushed $R/mc/codex:\([0-9a-f]\{64\}\) .*|\1|p" "$IT_DIR/push.err")
[ ${#key} = 64 ] || { cat "$IT_DIR/push.err"; it_fail "no push to $R"; }
MT=application/vnd.docker.distribution.manifest.v2+json
curl -sf -H "Accept: $MT" "http://$R/v2/mc/codex/manifests/$key" >"$IT_DIR/manifest.json" || it_fail "GET manifest"
curl -sf -X PUT -H "Content-Type: $MT" --data-binary @"$IT_DIR/manifest.json" "http://$R/v2/mc/codex/manifests/stable2" >/dev/null || it_fail "PUT stable2"
tags() { curl -sf "http://$R/v2/mc/codex/tags/list"; }
sleep 2
run 0 gc-dry env MOLCACHE_CA_FILE="$IT_DIR/ca.pem" MOLCACHE_REGISTRY="$RT/mc" "$MOLCACHE" gc --registry --max-age 1s --dry-run
grep -q "would delete 127.0.0.1:$PT/mc/codex:$key (sha256:[0-9a-f]*): also tagged stable2" "$IT_DIR/gc-dry.out" || { cat "$IT_DIR/gc-dry.out"; it_fail "dry run: stable2 not named"; }
run 0 gc1 env MOLCACHE_CA_FILE="$IT_DIR/ca.pem" MOLCACHE_REGISTRY="$RT/mc" "$MOLCACHE" gc --registry --max-age 1s
grep -q "^kept 127.0.0.1:$PT/mc/codex:$key (sha256:[0-9a-f]*): also tagged stable2$" "$IT_DIR/gc1.out" || { cat "$IT_DIR/gc1.out" "$IT_DIR/gc1.err"; it_fail "gc: no 'kept …: also tagged stable2'"; }
tags | grep -q '"stable2"' || it_fail "gc --registry deleted stable2 (it deleted by digest)"
tags | grep -q "\"$key\"" || it_fail "gc deleted the digest of a tag that stable2 also names"
run 0 gc1j env MOLCACHE_CA_FILE="$IT_DIR/ca.pem" MOLCACHE_REGISTRY="$RT/mc" "$MOLCACHE" gc --registry --max-age 1s --json
python3 - "$IT_DIR/gc1j.out" "$key" <<'PY' || { cat "$IT_DIR/gc1j.out"; it_fail "gc --json: no kept item"; }
import json, sys
d = json.load(open(sys.argv[1])); t = [t for t in d["tags"] if t["tag"] == sys.argv[2]][0]
assert t["deleted"] is False and t["kept"] == "also tagged stable2" and t["also_tagged"] == ["stable2"] and d["kept"] == 1, d
PY
ok "gc --registry keeps a manifest that stable2 also names: 'kept …: also tagged stable2' (text and JSON); both tags stay"

# deletes disabled: 405 with the hint, nothing deleted
run 7 gc405 env MOLCACHE_REGISTRY="127.0.0.1:$PN/mc" "$MOLCACHE" gc --registry --max-age 1s
grep -q "^hint: .*storage.delete.enabled" "$IT_DIR/gc405.err" || { cat "$IT_DIR/gc405.out" "$IT_DIR/gc405.err"; it_fail "405: no storage.delete.enabled hint"; }
tags | grep -q "\"$key\"" || it_fail "a registry without deletes lost a tag"
ok "a registry that allows no deletes (405): exit 7 with the storage.delete.enabled hint"

# stable2 moves to another manifest (same content, other bytes): now only molcache's tag names the digest
python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), indent=1))' "$IT_DIR/manifest.json" >"$IT_DIR/manifest2.json"
curl -sf -X PUT -H "Content-Type: $MT" --data-binary @"$IT_DIR/manifest2.json" "http://$R/v2/mc/codex/manifests/stable2" >/dev/null || it_fail "PUT stable2 again"
run 0 gc2 env MOLCACHE_CA_FILE="$IT_DIR/ca.pem" MOLCACHE_REGISTRY="$RT/mc" "$MOLCACHE" gc --registry --max-age 1s
grep -q "^deleted 127.0.0.1:$PT/mc/codex:$key" "$IT_DIR/gc2.out" || { cat "$IT_DIR/gc2.out" "$IT_DIR/gc2.err"; it_fail "gc: the tag alone on its digest was not deleted"; }
tags | grep -q "\"$key\"" && it_fail "the key's tag stayed"
tags | grep -q '"stable2"' || it_fail "stable2 (another manifest) was deleted"
ok "once no other tag names its digest, gc --registry deletes molcache's tag (by digest on Distribution 2.x); stable2 stays"

# A registry that deletes a tag alone (distribution-spec 1.1; Distribution 3 removes the tag's
# link directory, as this front does on R's own storage): only the tag goes, stable2 stays.
cat >"$IT_DIR/tagfront.py" <<'PY'
import http.server, os, re, shutil, sys, urllib.request
upstream, data, port_file = sys.argv[1:4]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def relay(self):
        m = re.fullmatch(r"/v2/(.+)/manifests/([A-Za-z0-9_][A-Za-z0-9._-]*)", self.path)
        if self.command == "DELETE" and m:
            d = os.path.join(data, "docker/registry/v2/repositories", m.group(1), "_manifests/tags", m.group(2))
            code = 202 if os.path.isdir(d) else 404
            if code == 202: shutil.rmtree(d)
            self.send_response(code); self.send_header("Content-Length", "0"); self.end_headers(); return
        req = urllib.request.Request(upstream + self.path, method=self.command,
                                     headers={"Accept": ", ".join(self.headers.get_all("Accept") or [])})
        try: r = urllib.request.urlopen(req); code = r.status
        except urllib.error.HTTPError as e: r = e; code = e.code
        body = r.read() if self.command != "HEAD" else b""
        self.send_response(code)
        for k, v in r.headers.items():
            if k.lower() in ("content-type", "docker-content-digest", "link"): self.send_header(k, v)
        self.send_header("Content-Length", r.headers.get("Content-Length", "0") if self.command == "HEAD" else str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    do_GET = do_HEAD = do_DELETE = relay
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file, "w") as f: f.write(str(srv.server_address[1]))
srv.serve_forever()
PY
python3 "$IT_DIR/tagfront.py" "http://$R" "$IT_DIR/data" "$IT_DIR/tagfront.port" & PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$IT_DIR/tagfront.port" ] && break; sleep 0.05; done
commit codex README tagdelete
run 0 push2 env MOLCACHE_REGISTRY="$R/mc" "$MOLCACHE" ensure codex --network none
key2=$(sed -n "s|.*push: pushed $R/mc/codex:\([0-9a-f]\{64\}\) .*|\1|p" "$IT_DIR/push2.err")
curl -sf -H "Accept: $MT" "http://$R/v2/mc/codex/manifests/$key2" >"$IT_DIR/manifest3.json" || it_fail "GET manifest 2"
curl -sf -X PUT -H "Content-Type: $MT" --data-binary @"$IT_DIR/manifest3.json" "http://$R/v2/mc/codex/manifests/stable2" >/dev/null || it_fail "PUT stable2 on key 2"
sleep 2
run 0 gc3 env MOLCACHE_REGISTRY="127.0.0.1:$(cat "$IT_DIR/tagfront.port")/mc" "$MOLCACHE" gc --registry --max-age 1s --json
python3 - "$IT_DIR/gc3.out" "$key2" <<'PY' || { cat "$IT_DIR/gc3.out" "$IT_DIR/gc3.err"; it_fail "tag delete: want deleted_by tag"; }
import json, sys
d = json.load(open(sys.argv[1])); t = [t for t in d["tags"] if t["tag"] == sys.argv[2]][0]
assert t["deleted"] is True and t["deleted_by"] == "tag" and d["kept"] == 0, d
PY
tags | grep -q "\"$key2\"" && it_fail "the tag deleted alone is still listed"
tags | grep -q '"stable2"' || it_fail "a tag delete took stable2 with it"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $MT" "http://$R/v2/mc/codex/manifests/stable2")" = 200 ] || it_fail "stable2 does not resolve"
ok "a registry that deletes a tag alone: gc --registry deletes just the tag (deleted_by tag); stable2 still resolves"

for f in "$IT_DIR"/*.out "$IT_DIR"/*.err "$IT_DIR"/*.log; do grep -qF -- "$PASS" "$f" && it_fail "the password in $f"; done
ok "the password appears in no output"
