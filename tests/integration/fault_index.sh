# fault_index.sh — the index busy, read-only or not ours:
#  - another process holding BEGIN IMMEDIATE: a hit still serves at once (it
#    needs no write), gc says the index is busy (not "another gc is running");
#  - a read-only cache root (a read-only bind mount): status, ls, show and
#    gc --dry-run work; doctor says "read-only file system" and offers no repair;
#  - another user's 0700 root and an engine socket the user cannot open: doctor
#    and ensure name "permission denied", each with a hint;
#  - doctor --repair moves nothing aside for a newer schema or a busy index, nor
#    while the engine does not answer, nor while a live process has the index
#    open (every one holds locks/root.lock shared; repair takes it exclusive).
# The busy hit (the first check) holds because the hit path writes nothing
# before it serves (cache/ensure.c: serve first, account best effort).
. "$(dirname "$0")/../integration/lib.sh"
it_setup

src=$(simple_template codex)
mkrepo codex "$src"
tag=$(mc ensure codex --network none -q 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "first ensure"; }
key=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT key FROM entries WHERE image_tag = '$tag'")
db=$MOLCACHE_HOME/index.db

# ---- busy: a writer holds the index for 30 s ---------------------------------------------------
python3 - "$db" "$IT_DIR/held" <<'PY' &
import sqlite3, sys, time, os
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
con.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(30)
con.execute("ROLLBACK")
PY
holder=$!
for _ in $(seq 1 100); do [ -e "$IT_DIR/held" ] && break; sleep 0.05; done
[ -e "$IT_DIR/held" ] || it_fail "the writer never took the index"
t0=$(date +%s%N)
rc=0
hit=$(mc ensure codex --network none 2>"$IT_DIR/busy.err") || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ $rc = 0 ] && [ "$hit" = "$tag" ] || { cat "$IT_DIR/busy.err"; it_fail "a hit on a busy index: exit $rc, printed '$hit'"; }
[ $ms -lt 8000 ] || it_fail "a hit on a busy index took $ms ms"
gc_rc=0
mc gc --max-age 1s >"$IT_DIR/gc.out" 2>"$IT_DIR/gc.err" || gc_rc=$?
[ $gc_rc != 0 ] || it_fail "gc on a busy index exited 0"
grep -qi "^molcache: index .*busy" "$IT_DIR/gc.err" || { cat "$IT_DIR/gc.err"; it_fail "gc on a busy index does not say the index is busy"; }
! grep -qi "another gc" "$IT_DIR/gc.err" || it_fail "gc blames another gc for a busy index"
grep -q "^hint: " "$IT_DIR/gc.err" || it_fail "gc on a busy index gives no hint"
# repair must not throw a busy index away
rc=0
mc doctor --repair --no-build --no-remotes >"$IT_DIR/rep-busy.out" 2>&1 || rc=$?
[ -z "$(ls "$MOLCACHE_HOME" | grep corrupt)" ] || it_fail "doctor --repair moved a busy index aside: $(ls "$MOLCACHE_HOME")"
kill $holder 2>/dev/null || true
wait $holder 2>/dev/null || true
ok "busy index: a hit serves in $ms ms; gc exit $gc_rc with '$(grep -i '^molcache: index' "$IT_DIR/gc.err" | head -1)'; repair leaves it"

# ---- a read-only cache root --------------------------------------------------------------------
# first a fresh root: status makes the index; gc --dry-run opens it read-only and stores the root id once
MOLCACHE_HOME=$IT_DIR/fresh mc status >/dev/null && MOLCACHE_HOME=$IT_DIR/fresh mc gc --dry-run >/dev/null ||
	it_fail "status then gc --dry-run on a fresh root"
ro=$IT_DIR/ro
mkdir -p "$ro"
mount --bind "$MOLCACHE_HOME" "$ro" && mount -o remount,bind,ro "$ro" || it_fail "cannot make a read-only bind mount"
trap 'it_rc=$?; umount "$ro" 2>/dev/null || true; it_teardown' EXIT
for cmd in "status" "ls" "show $key" "gc --dry-run --max-age 1s"; do
	rc=0
	# shellcheck disable=SC2086
	MOLCACHE_HOME=$ro mc $cmd >"$IT_DIR/ro.out" 2>"$IT_DIR/ro.err" || rc=$?
	[ $rc = 0 ] || { cat "$IT_DIR/ro.err"; it_fail "'$cmd' on a read-only root: exit $rc"; }
done
MOLCACHE_HOME=$ro mc ls | grep -q "${key:0:12}" || it_fail "ls on a read-only root does not list the entry"
rc=0
MOLCACHE_HOME=$ro mc doctor --no-remotes --no-build >"$IT_DIR/ro-doc.out" 2>&1 || rc=$?
grep -qi "read-only file system" "$IT_DIR/ro-doc.out" || { cat "$IT_DIR/ro-doc.out"; it_fail "doctor does not say read-only file system"; }
! grep -q -- "--repair" "$IT_DIR/ro-doc.out" || { cat "$IT_DIR/ro-doc.out"; it_fail "doctor offers --repair on a read-only root"; }
! grep -qi "damaged" "$IT_DIR/ro-doc.out" || it_fail "doctor calls a read-only index damaged"
umount "$ro"
trap it_teardown EXIT
ok "read-only root: status, ls, show, gc --dry-run exit 0; doctor says read-only file system, no repair"

# ---- permissions: another user's root, a socket the user cannot open ----------------------------
chmod 755 "$IT_DIR"
install -d -m 755 "$IT_DIR/bin"
cp "$MOLCACHE" "$IT_DIR/bin/molcache"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/nonexistent "$@"; }
chmod 700 "$MOLCACHE_HOME"
rc=0
as_nobody MOLCACHE_HOME="$MOLCACHE_HOME" DOCKER_HOST="$DOCKER_HOST" "$IT_DIR/bin/molcache" doctor --no-remotes --no-build \
	>"$IT_DIR/perm.out" 2>&1 || rc=$?
grep -qi "index.*permission denied" "$IT_DIR/perm.out" || { cat "$IT_DIR/perm.out"; it_fail "doctor on another user's root does not say permission denied"; }
! grep -qi "no index yet" "$IT_DIR/perm.out" || it_fail "doctor says 'no index yet' on another user's root"
sock=$(engine_sock)
chmod 660 "$sock"
install -d -m 700 -o 65534 -g 65534 "$IT_DIR/nobody-cache"
rc=0
as_nobody MOLCACHE_HOME="$IT_DIR/nobody-cache" DOCKER_HOST="$DOCKER_HOST" "$IT_DIR/bin/molcache" doctor --no-remotes --no-build \
	>"$IT_DIR/sock.out" 2>&1 || rc=$?
grep -qi "engine.*permission denied" "$IT_DIR/sock.out" || { cat "$IT_DIR/sock.out"; it_fail "doctor: socket permission not named"; }
! grep -qi "nothing listens" "$IT_DIR/sock.out" || it_fail "doctor says nothing listens on a socket it may not open"
grep -qi "hint: .*docker group" "$IT_DIR/sock.out" || { cat "$IT_DIR/sock.out"; it_fail "doctor: no docker group hint"; }
rc=0
as_nobody MOLCACHE_HOME="$IT_DIR/nobody-cache" DOCKER_HOST="$DOCKER_HOST" MOLCACHE_REPO_PREFIX="$MOLCACHE_REPO_PREFIX" \
	"$IT_DIR/bin/molcache" ensure codex --network none >/dev/null 2>"$IT_DIR/sock.err" || rc=$?
[ $rc = 4 ] || { cat "$IT_DIR/sock.err"; it_fail "ensure with a socket it may not open: exit $rc, want 4"; }
grep -qi "^molcache: .*permission denied" "$IT_DIR/sock.err" && grep -qi "^hint: .*docker group" "$IT_DIR/sock.err" ||
	{ cat "$IT_DIR/sock.err"; it_fail "ensure: socket permission denied without the docker group hint"; }
chmod 700 "$MOLCACHE_HOME"
ok "permissions: doctor names the index's and the socket's 'permission denied'; ensure exits 4 with the docker group hint"

# ---- doctor --repair: only real damage, and only with the engine answering ----------------------
# a live ensure (mid-build) holds the root lock shared, which repair would need exclusive
slow=$(simple_template hermes)
echo 'RUN sleep 8' >>"$slow/Dockerfile"
echo "$IT_DIR" >"$slow/nonce" # no build cache from an earlier run
mkrepo hermes "$slow"
mc ensure hermes --network none -q >/dev/null 2>"$IT_DIR/slow.err" &
live=$!
for _ in $(seq 1 200); do
	[ "$(sqlite3 "$db" "SELECT count(*) FROM entries WHERE runtime = 'hermes' AND state = 0" 2>/dev/null)" = 1 ] && break
	sleep 0.05
done
rc=0
flock -n -x "$MOLCACHE_HOME/locks/root.lock" true 2>/dev/null || rc=$?
[ $rc != 0 ] || it_fail "an ensure mid-build does not hold locks/root.lock"
rc=0
mc doctor --repair --no-build --no-remotes >"$IT_DIR/rep-live.out" 2>&1 || rc=$?
[ $rc != 0 ] || { cat "$IT_DIR/rep-live.out"; it_fail "repair ran while an ensure had the index open"; }
grep -qi "another molcache process" "$IT_DIR/rep-live.out" || { cat "$IT_DIR/rep-live.out"; it_fail "repair does not say another process has the index"; }
wait $live || { cat "$IT_DIR/slow.err"; it_fail "the live ensure failed while repair was refused"; }
sqlite3 "$db" "PRAGMA user_version = 99"
ino=$(stat -c %i "$db")
rc=0
DOCKER_HOST=unix://$IT_DIR/gone.sock mc doctor --repair --no-build --no-remotes >"$IT_DIR/rep99.out" 2>&1 || rc=$?
[ $rc != 0 ] || it_fail "repair of a newer schema with no engine exited 0"
[ "$(stat -c %i "$db")" = "$ino" ] || it_fail "repair replaced an index of a newer schema: $(ls "$MOLCACHE_HOME")"
[ "$(sqlite3 "$db" 'PRAGMA user_version')" = 99 ] || it_fail "the newer index was changed"
rc=0
mc doctor --repair --no-build --no-remotes >"$IT_DIR/rep99b.out" 2>&1 || rc=$?
[ "$(stat -c %i "$db")" = "$ino" ] || it_fail "repair (engine up) replaced an index of a newer schema"
grep -qi "newer" "$IT_DIR/rep99b.out" || { cat "$IT_DIR/rep99b.out"; it_fail "repair does not say the schema is newer"; }
sqlite3 "$db" "PRAGMA user_version = 5"
# real damage, engine down: nothing is moved until the engine answers
cp "$db" "$IT_DIR/good.db"
head -c 4096 /dev/urandom >"$db"
rm -f "$db-wal" "$db-shm"
ino=$(stat -c %i "$db")
rc=0
DOCKER_HOST=unix://$IT_DIR/gone.sock mc doctor --repair --no-build --no-remotes >"$IT_DIR/repdown.out" 2>&1 || rc=$?
[ $rc != 0 ] || it_fail "repair with no engine exited 0"
[ "$(stat -c %i "$db")" = "$ino" ] && [ -z "$(ls "$MOLCACHE_HOME" | grep corrupt)" ] || it_fail "repair moved the index with the engine down"
# real damage, engine up, but a live process has the index open: nothing is moved
# (the shell becomes the sleep, so killing it drops the lock)
bash -c 'exec 9>>"$1"; flock -s 9; exec sleep 20' _ "$MOLCACHE_HOME/locks/root.lock" &
holder=$!
for _ in $(seq 1 100); do ! flock -n -x "$MOLCACHE_HOME/locks/root.lock" true 2>/dev/null && break; sleep 0.05; done
rc=0
mc doctor --repair --no-build --no-remotes >"$IT_DIR/replive.out" 2>&1 || rc=$?
kill $holder 2>/dev/null || true
wait $holder 2>/dev/null || true
[ $rc != 0 ] || it_fail "repair with a live process exited 0"
[ "$(stat -c %i "$db")" = "$ino" ] && [ -z "$(ls "$MOLCACHE_HOME" | grep corrupt)" ] || it_fail "repair moved the index from under a live process"
rc=0
mc doctor --repair --no-build --no-remotes >"$IT_DIR/repup.out" 2>&1 || rc=$?
[ -n "$(ls "$MOLCACHE_HOME" | grep corrupt)" ] || { cat "$IT_DIR/repup.out"; it_fail "a damaged index was not moved aside with the engine up"; }
[ "$(mc ensure codex --network none -q 2>/dev/null)" = "$tag" ] || it_fail "after repair: not the same tag"
ok "repair: a newer schema, a busy index and one a live process has open are kept; damage waits for the engine, then is moved aside and rebuilt"
