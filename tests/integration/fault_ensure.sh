# fault_ensure.sh — the world fails on purpose under ensure: kill -9 at random
# moments, the engine connection dying mid-build, a full disk. Each time the
# next ensure must repair what was left and succeed, and the index stay sound.
. "$(dirname "$0")/lib.sh"
it_setup

src=$(simple_template codex)
echo 'RUN sleep 1' >> "$src/Dockerfile"
for i in $(seq 1 60); do head -c 2000 /dev/urandom | base64 > "$src/blob$i"; done
mkrepo codex "$src"
sound() { # the index is intact and every ready row's image exists
	[ "$(sqlite3 "$MOLCACHE_HOME/index.db" 'PRAGMA integrity_check')" = ok ] || it_fail "integrity_check after $1"
	for t in $(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT image_tag FROM entries WHERE state=1"); do
		image_exists "$t" || it_fail "ready row's image $t missing after $1"
	done
}

# ---- kill -9 at random moments of a cold ensure, then ensure again ----------------
trials=${FAULT_TRIALS:-12}
for i in $(seq 1 $trials); do
	commit codex "blob1" "trial $i $RANDOM"
	mc ensure codex --network none -q >/dev/null 2>&1 & pid=$!
	sleep "0.$(( RANDOM % 10 ))$(( RANDOM % 10 ))"
	[ $(( i % 4 )) = 0 ] && sleep 1   # some land in the build
	kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
	tag=$(mc ensure codex --network none -q 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "ensure after kill -9 (trial $i)"; }
	image_exists "$tag" || it_fail "trial $i: $tag missing"
	sound "kill trial $i"
done
[ -z "$(ls -A "$MOLCACHE_HOME/tmp")" ] || echo "note: tmp/ holds $(ls "$MOLCACHE_HOME/tmp") (gc sweeps it)"
mc gc --grace 0s -q || it_fail "gc after kills"
[ -z "$(ls -A "$MOLCACHE_HOME/tmp")" ] || it_fail "tmp/ not clean after gc: $(ls "$MOLCACHE_HOME/tmp")"
ok "$trials kill -9 trials: each next ensure succeeds, index sound, gc leaves tmp/ empty"

# ---- a fetch killed while libgit2 held its ref locks ---------------------------------
mirror=$(ls -d "$MOLCACHE_HOME"/repos/*.git | head -1)
for f in $(cd "$mirror" && find refs -type f); do touch "$mirror/$f.lock"; done
touch "$mirror/packed-refs.lock"
commit codex blob3 "after a killed fetch $RANDOM"
tag=$(mc ensure codex --network none -q 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "ensure with stale ref locks in the mirror"; }
[ -z "$(cd "$mirror" && find . -name '*.lock')" ] || it_fail "stale locks left in the mirror"
[ "$(git --git-dir="$mirror" rev-parse refs/molcache/heads/main)" = "$(git -C "$IT_DIR/work/codex" rev-parse HEAD)" ] ||
	it_fail "the mirror's ref did not move to the new commit"
ok "stale libgit2 lock files in a mirror (a killed fetch) are cleared; the ref moves on"

# ---- the engine connection dies mid-build ------------------------------------------
# a proxy between molcache and dockerd that cuts the build's answer after a few bytes
proxy=$IT_DIR/proxy.sock
python3 - "$proxy" "${DOCKER_HOST#unix://}" <<'PY' & ppid=$!
import socket, sys, threading, os
path, real = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX); srv.bind(path); srv.listen(8)
def pipe(a, b, cut):
    sent = 0
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            if cut and b"HTTP/1.1 200" in d[:20] and b"chunked" in d[:4096].lower():
                b.sendall(d[:300]); break   # the build's answer starts, then the engine "dies"
            b.sendall(d); sent += len(d)
    except OSError: pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
while True:
    c, _ = srv.accept()
    u = socket.socket(socket.AF_UNIX); u.connect(real)
    threading.Thread(target=pipe, args=(c, u, False), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c, True), daemon=True).start()
PY
for _ in $(seq 50); do [ -S "$proxy" ] && break; sleep 0.1; done
commit codex blob2 "engine dies $RANDOM"
set +e; DOCKER_HOST=unix://$proxy mc ensure codex --network none >/dev/null 2>"$IT_DIR/err.engine"; rc=$?; set -e
kill $ppid 2>/dev/null || true; wait $ppid 2>/dev/null || true
[ $rc = 4 ] || [ $rc = 5 ] || { cat "$IT_DIR/err.engine"; it_fail "engine cut mid-build: exit $rc, want 4 or 5"; }
grep -q "^molcache: .*docker engine" "$IT_DIR/err.engine" || { cat "$IT_DIR/err.engine"; it_fail "no engine error line when the engine died"; }
tag=$(mc ensure codex --network none -q 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "ensure after the engine died"; }
sound "engine died"
ok "engine gone mid-build: exit $rc ($(grep '^molcache: .*docker engine' "$IT_DIR/err.engine" | head -1)); the next ensure builds"

# ---- a full disk ------------------------------------------------------------------------
mnt=$IT_DIR/small; mkdir -p "$mnt"
mount -t tmpfs -o size=320k tmpfs "$mnt" || it_fail "cannot mount a small tmpfs (root needed)"
trap 'it_rc=$?; umount "$mnt" 2>/dev/null || true; it_teardown' EXIT
set +e; MOLCACHE_HOME=$mnt/cache mc ensure codex --network none >/dev/null 2>"$IT_DIR/err"; rc=$?; set -e
[ $rc != 0 ] || it_fail "a full disk did not fail the ensure"
grep -qi "no space left" "$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "full disk: error does not say so"; }
[ "$(grep -c '^molcache: [^ ]' "$IT_DIR/err" | head -1)" -ge 1 ] || it_fail "no one-line error"
mount -o remount,size=64m "$mnt"
tag=$(MOLCACHE_HOME=$mnt/cache mc ensure codex --network none -q 2>"$IT_DIR/err2") || { cat "$IT_DIR/err2"; it_fail "ensure after space was freed"; }
[ "$(sqlite3 "$mnt/cache/index.db" 'PRAGMA integrity_check')" = ok ] || it_fail "index after a full disk"
umount "$mnt"
ok "a full disk: exit $rc with '$(grep '^molcache: ' "$IT_DIR/err" | grep -v ' ms$' | head -1)'; after freeing space the next ensure works"
