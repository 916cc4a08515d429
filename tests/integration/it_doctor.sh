# it_doctor.sh — `molcache doctor` checks capabilities, not binaries: PASS in the
# fixture (a real BuildKit build on the real engine, the test image removed
# afterwards); FAIL with a clear message when the engine socket is missing; FAIL
# when BuildKit cannot build; WARN (saying what it costs) on a classic-only
# engine; FAIL naming the redacted URL for an unreachable remote; cache root
# permission problems.
#
# "BuildKit cannot build" and "classic only" are simulated with a small fake
# engine (python3, a unix socket): it answers /_ping and /version like dockerd
# 20.10+ (Api-Version 1.41; Builder-Version 2, or 1 for classic), reads the
# build context upload in full, and answers /build with the error line a broken
# BuildKit streams (mode "broken") or a classic build's stream with an image id
# (mode "classic"). The real engine cannot be made to lose BuildKit at run time,
# and the point of the check is that doctor goes all the way to a build: a
# fake that passes /_ping and /version but fails the build is exactly the case
# that broke production ("BuildKit is enabled but the buildx component is
# missing or broken" after `command -v docker` passed).
. "$(dirname "$0")/lib.sh"
it_setup
export MOLCACHE_RUNTIMES=claude-code

jcheck() {
	local f=$1 expr=$2
	shift 2
	python3 - "$f" "$expr" "$@" <<'PY' || it_fail "json check failed: $expr (file $f)"
import json, sys
d = json.load(open(sys.argv[1]))
a = sys.argv[3:]
ok = eval(sys.argv[2])
if not ok:
    print(json.dumps(d, indent=1)[:3000], file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}
J=$IT_DIR/j.json
status_of() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(",".join(c["status"] for c in d["checks"] if c["name"] == sys.argv[2]))' "$J" "$1"; }

src=$(simple_template claude-code)
mkrepo claude-code "$src"
mc ensure claude-code --network none >/dev/null 2>&1 || it_fail "ensure in the fixture"

# ---- PASS in the fixture -----------------------------------------------------
images_before=$(engine_get /images/json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
mc doctor --json > "$J" || { cat "$J"; it_fail "doctor in the fixture"; }
jcheck "$J" 'd["ok"] and d["summary"] == {"pass": 8, "warn": 0, "fail": 0, "skip": 0}'
jcheck "$J" '[c["name"] for c in d["checks"]] == ["cache root", "index", "engine", "libarchive", "CA loading", "build", "remote", "disk"]'
jcheck "$J" '"API 1." in [c for c in d["checks"] if c["name"] == "engine"][0]["message"]'
jcheck "$J" '"BuildKit built" in [c for c in d["checks"] if c["name"] == "build"][0]["message"]'
images_after=$(engine_get /images/json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$images_before" = "$images_after" ] || it_fail "doctor left its test image ($images_before → $images_after images)"
engine_get /images/json | grep -q molcache-doctor && it_fail "doctor's tag is still there"
mc doctor > "$IT_DIR/out.txt" || it_fail "doctor text"
grep -q "^PASS  build" "$IT_DIR/out.txt" && grep -q "8 passed, 0 warnings, 0 failed" "$IT_DIR/out.txt" || { cat "$IT_DIR/out.txt"; it_fail "doctor text"; }
ok "doctor passes in the fixture with a real BuildKit build, and removes its image"

# ---- the engine socket is missing ------------------------------------------
set +e; DOCKER_HOST=unix://$IT_DIR/gone/docker.sock mc doctor > "$IT_DIR/out.txt" 2>&1; rc=$?; set -e
[ $rc = 1 ] || { cat "$IT_DIR/out.txt"; it_fail "socket missing: rc $rc, want 1"; }
grep -q "^FAIL  engine .*$IT_DIR/gone/docker.sock.*o such file" "$IT_DIR/out.txt" || { cat "$IT_DIR/out.txt"; it_fail "socket missing: message"; }
grep -q "hint: .*DOCKER_HOST" "$IT_DIR/out.txt" || it_fail "socket missing: hint"
grep -q "^SKIP  build" "$IT_DIR/out.txt" || it_fail "socket missing: build not skipped"
set +e; DOCKER_HOST=unix://$IT_DIR/gone/docker.sock mc doctor --json > "$J"; rc=$?; set -e
[ $rc = 1 ] || it_fail "socket missing --json: rc $rc"
jcheck "$J" 'not d["ok"] and d["summary"]["fail"] == 1 and d["summary"]["skip"] == 1'
[ "$(status_of engine)" = fail ] && [ "$(status_of build)" = skip ] && [ "$(status_of index)" = pass ] || it_fail "socket missing: statuses"
ok "doctor FAILs with the socket path when the engine socket is missing"

# ---- libarchive: loaded only by a miss, so doctor loads it --------------------
soname=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([c for c in d["checks"] if c["name"] == "libarchive"][0]["message"].split()[0])' "$J")
case $soname in libarchive.so.*) ;; *) it_fail "libarchive check names no soname: '$soname'" ;; esac
lib=$(readlink -f "$(pkg-config --variable=libdir libarchive)/$soname")
[ -f "$lib" ] || it_fail "no $lib"
# the library gone from this host (a private mount namespace): FAIL, and the build is skipped
set +e
unshare --mount sh -c 'mount --bind /dev/null "$1" && exec "$2" doctor --no-remotes' sh "$lib" "$MOLCACHE" > "$IT_DIR/out.txt" 2>&1
rc=$?
set -e
[ $rc = 1 ] || { cat "$IT_DIR/out.txt"; it_fail "libarchive missing: rc $rc, want 1"; }
grep -q "^FAIL  libarchive .*cannot load libarchive" "$IT_DIR/out.txt" || { cat "$IT_DIR/out.txt"; it_fail "libarchive missing: message"; }
grep -q "hint: install libarchive" "$IT_DIR/out.txt" || it_fail "libarchive missing: hint"
grep -q "^SKIP  build .*libarchive" "$IT_DIR/out.txt" || { cat "$IT_DIR/out.txt"; it_fail "libarchive missing: build not skipped"; }
grep -q "^PASS  engine" "$IT_DIR/out.txt" || it_fail "libarchive missing: engine should pass"
ok "doctor loads libarchive ($soname): FAIL with a hint and the build skipped when the host lacks it"

# ---- a fake engine: /_ping and /version fine, /build broken or classic -----
cat > "$IT_DIR/fake_engine.py" <<'PY'
import http.server, json, os, socketserver, sys

sock, mode = sys.argv[1], sys.argv[2]

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def address_string(self): return "unix"
    def reply(self, code, body, ctype="application/json", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Api-Version", "1.41")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            n = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return n
                n += len(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return len(self.rfile.read(length))
    def do_GET(self):
        if self.path == "/_ping":
            self.reply(200, "OK", "text/plain", [("Builder-Version", "1" if mode == "classic" else "2")])
        elif self.path.endswith("/version"):
            self.reply(200, json.dumps({"ApiVersion": "1.41", "Version": "fake", "Os": "linux", "Arch": "amd64"}))
        else:
            self.reply(404, json.dumps({"message": "No such image"}))
    def do_HEAD(self):
        self.do_GET()
    def do_DELETE(self):
        self.reply(200, "[]")
    def do_POST(self):
        got = self.read_body()
        if "/build" not in self.path:
            self.reply(404, json.dumps({"message": "not here"}))
            return
        with open(sock + ".builds", "a") as f:
            f.write("%s %d\n" % (self.path, got))
        if mode == "broken":
            lines = [{"errorDetail": {"message": "BuildKit is enabled but the buildx component is missing or broken"},
                      "error": "BuildKit is enabled but the buildx component is missing or broken"}]
        else:
            lines = [{"stream": "Step 1/2 : FROM scratch\n"}, {"stream": "Step 2/2 : COPY x /x\n"},
                     {"aux": {"ID": "sha256:" + "ab" * 32}}, {"stream": "Successfully built abababababab\n"}]
        self.reply(200, "".join(json.dumps(l) + "\r\n" for l in lines))

class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

if os.path.exists(sock):
    os.unlink(sock)
S(sock, H).serve_forever()
PY
FAKE_PID=
stop_fake() {
	if [ -n "$FAKE_PID" ]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
	fi
	FAKE_PID=
}
start_fake() {
	stop_fake
	FAKE_SOCK=$IT_DIR/fake-$1.sock
	python3 "$IT_DIR/fake_engine.py" "$FAKE_SOCK" "$1" &
	FAKE_PID=$!
	for _ in $(seq 1 50); do [ -S "$FAKE_SOCK" ] && return 0; sleep 0.1; done
	it_fail "fake engine did not start"
}
# keep the script's status for it_teardown, which reads $?
trap 'rc=$?; set +e; stop_fake; (exit $rc); it_teardown' EXIT

start_fake broken
set +e; DOCKER_HOST=unix://$FAKE_SOCK mc doctor --json > "$J"; rc=$?; set -e
[ $rc = 1 ] || { cat "$J"; it_fail "BuildKit broken: rc $rc, want 1"; }
[ "$(status_of engine)" = pass ] || it_fail "fake engine: /_ping and /version should pass"
[ "$(status_of build)" = fail ] || it_fail "BuildKit broken: build check is $(status_of build)"
jcheck "$J" '"BuildKit cannot build" in [c for c in d["checks"] if c["name"] == "build"][0]["message"] and "buildx component is missing or broken" in [c for c in d["checks"] if c["name"] == "build"][0]["message"] and [c for c in d["checks"] if c["name"] == "build"][0]["hint"]'
grep -q "version=2" "$FAKE_SOCK.builds" || it_fail "doctor did not ask for BuildKit (version=2)"
grep -q "networkmode=none" "$FAKE_SOCK.builds" || it_fail "doctor's build not under networkmode=none"
[ "$(awk '{ print $2 }' "$FAKE_SOCK.builds")" -gt 512 ] || it_fail "doctor uploaded no context"
set +e; DOCKER_HOST=unix://$FAKE_SOCK mc doctor > "$IT_DIR/out.txt"; set -e
grep -q "^FAIL  build .*BuildKit cannot build" "$IT_DIR/out.txt" || { cat "$IT_DIR/out.txt"; it_fail "BuildKit broken: text"; }
ok "doctor FAILs when BuildKit cannot build although /_ping and /version answer"

start_fake classic
DOCKER_HOST=unix://$FAKE_SOCK mc doctor --json > "$J" || { cat "$J"; it_fail "classic only: should not FAIL"; }
[ "$(status_of build)" = warn ] || it_fail "classic only: build check is $(status_of build)"
jcheck "$J" 'd["ok"] and "classic builder" in [c for c in d["checks"] if c["name"] == "build"][0]["message"] and "authz round trip" in [c for c in d["checks"] if c["name"] == "build"][0]["hint"]'
grep -q "version=1" "$FAKE_SOCK.builds" || it_fail "classic only: doctor did not use version=1"
stop_fake
ok "a classic-only engine is a WARN that says what it costs"

# ---- remotes -----------------------------------------------------------------
set +e; MOLCACHE_RUNTIMES=claude-code,codex MOLCACHE_GIT_TOKEN=s3cr3t-tok \
	MOLCACHE_REPO_PREFIX="http://user:s3cr3t-pw@127.0.0.1:1/workspace-template-" mc doctor --no-build --json > "$J"; rc=$?; set -e
[ $rc = 1 ] || it_fail "unreachable remote: rc $rc"
[ "$(status_of remote)" = fail,fail ] || it_fail "unreachable remote: $(status_of remote)"
jcheck "$J" 'all("127.0.0.1:1/workspace-template-" in c["message"] for c in d["checks"] if c["name"] == "remote")'
if grep -q "s3cr3t" "$J"; then it_fail "a secret reached doctor's output"; fi
mc doctor --no-build --no-remotes --json > "$J"
jcheck "$J" '"remote" not in [c["name"] for c in d["checks"]] and "build" not in [c["name"] for c in d["checks"]]'
set +e; MOLCACHE_REPO_PREFIX= mc doctor --no-build --json > "$J"; rc=$?; set -e
[ $rc = 0 ] && [ "$(status_of remote)" = warn ] || it_fail "no prefix should WARN: rc $rc, $(status_of remote)"
ok "each remote: FAIL naming the redacted URL, no secret printed; no prefix is a WARN"

# ---- cache root ------------------------------------------------------------------
chmod 755 "$MOLCACHE_HOME"
mc doctor --no-build --no-remotes --json > "$J" || it_fail "mode 0755 should only WARN"
[ "$(status_of 'cache root')" = warn ] || it_fail "mode 0755: $(status_of 'cache root')"
jcheck "$J" '"chmod 700" in [c for c in d["checks"] if c["name"] == "cache root"][0]["hint"]'
chmod 700 "$MOLCACHE_HOME"
MOLCACHE_HOME=$IT_DIR/not-yet mc doctor --no-build --no-remotes --json > "$J" || it_fail "missing root should only WARN"
[ "$(status_of 'cache root')" = warn ] && [ "$(status_of index)" = pass ] || it_fail "missing root: statuses"
[ ! -e "$IT_DIR/not-yet" ] || it_fail "doctor created the cache root"
echo file > "$IT_DIR/a-file"
set +e; MOLCACHE_HOME=$IT_DIR/a-file mc doctor --no-build --no-remotes --json > "$J"; rc=$?; set -e
[ $rc = 1 ] && [ "$(status_of 'cache root')" = fail ] || it_fail "root is a file: rc $rc"
# a corrupt index FAILs (the file is garbage, not SQLite)
mkdir -p "$IT_DIR/bad-root" && chmod 700 "$IT_DIR/bad-root"
head -c 8192 /dev/urandom > "$IT_DIR/bad-root/index.db"
set +e; MOLCACHE_HOME=$IT_DIR/bad-root mc doctor --no-build --no-remotes --json > "$J"; rc=$?; set -e
[ $rc = 1 ] && [ "$(status_of index)" = fail ] || { cat "$J"; it_fail "corrupt index: rc $rc, $(status_of index)"; }
ok "cache root: 0755 WARN with chmod hint, missing WARN (not created), a file FAILs; corrupt index FAILs"

# ---- config: gc's defaults are parsed at load, so doctor names a typo ---------------
mkdir -p "$XDG_CONFIG_HOME/molcache"
echo "gc_max_size = 20Q" > "$XDG_CONFIG_HOME/molcache/config"
set +e; mc doctor --no-build --no-remotes > "$IT_DIR/doc.out" 2>&1; rc=$?; set -e
[ $rc = 2 ] && grep -q "gc_max_size '20Q'" "$IT_DIR/doc.out" || { cat "$IT_DIR/doc.out"; it_fail "bad gc_max_size: doctor rc $rc"; }
grep -q "line 1" "$IT_DIR/doc.out" || it_fail "the message names no line"
echo "gc_keep = 2" > "$IT_DIR/cfg" && mv "$IT_DIR/cfg" "$XDG_CONFIG_HOME/molcache/config"
mc doctor --no-build --no-remotes >/dev/null 2>&1 || it_fail "a good gc_keep: doctor failed"
rm "$XDG_CONFIG_HOME/molcache/config"
ok "a bad gc_max_size in the config: doctor fails naming it and its line (exit 2)"
