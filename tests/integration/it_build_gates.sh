# it_build_gates.sh — a build is cancelled when it shows no progress for
# build_stall_grace or runs past build_timeout: exit 5 naming the gate, the
# engine really stops the step, the key lock is released and the failure is
# recorded; waiters time out per lock_timeout with exit 6.
. "$(dirname "$0")/lib.sh"
it_setup

gated() { # RUNTIME RUN-LINE: a template whose last step is RUN-LINE
	local src
	src=$(simple_template "$1")
	echo "RUN $2" >>"$src/Dockerfile"
	mkrepo "$1" "$src"
}
no_sleeper() { # the step's process is gone from the host within 10 s
	for _ in $(seq 100); do
		pgrep -f "$1" >/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# ---- stall: a step that prints nothing --------------------------------------------------------
gated codex "sleep 47"
(
	rc=0
	mc ensure codex --network none --build-stall-grace 4s >/dev/null 2>"$IT_DIR/err.stall" || rc=$?
	echo $rc >"$IT_DIR/rc.stall"
) &
bg=$!
for _ in $(seq 100); do pgrep -f "sleep 47" >/dev/null && break; sleep 0.1; done
pgrep -f "sleep 47" >/dev/null || it_fail "the build's step never started"
# a waiter on the same key gives up per lock_timeout
rc=0; mc ensure codex --network none --lock-timeout 1 >/dev/null 2>"$IT_DIR/err.wait" || rc=$?
[ $rc = 6 ] || { cat "$IT_DIR/err.wait"; it_fail "a waiter on the key's lock: exit $rc, want 6"; }
wait $bg
rc=$(cat "$IT_DIR/rc.stall")
[ "$rc" = 5 ] || { cat "$IT_DIR/err.stall"; it_fail "stalled build: exit $rc, want 5"; }
grep -q "no build progress for 4s" "$IT_DIR/err.stall" || { cat "$IT_DIR/err.stall"; it_fail "the stall gate is not named"; }
no_sleeper "sleep 47" || it_fail "the engine still runs the cancelled step"
[ "$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT state FROM entries WHERE runtime='codex'")" = 2 ] ||
	it_fail "the failure is not recorded"
lock=$(ls "$MOLCACHE_HOME"/locks/*.lock | grep -v -e repo- -e gc.lock | head -1)
python3 -c 'import fcntl,sys; fcntl.flock(open(sys.argv[1]), fcntl.LOCK_EX | fcntl.LOCK_NB)' "$lock" ||
	it_fail "the key lock is still held"
ok "a silent step is cancelled after build_stall_grace (exit 5, gate named, step gone, lock free, failure recorded); a waiter exits 6"

# ---- ceiling: a step that keeps printing ------------------------------------------------------
gated hermes 'i=0; while [ $i -lt 120 ]; do echo tick $i; i=$((i+1)); sleep 0.5; done'
t0=$(date +%s)
rc=0; mc ensure hermes --network none --build-timeout 5s --build-stall-grace 1m >/dev/null 2>"$IT_DIR/err.ceil" || rc=$?
[ $rc = 5 ] || { cat "$IT_DIR/err.ceil"; it_fail "over the ceiling: exit $rc, want 5"; }
grep -q "build exceeded 5s" "$IT_DIR/err.ceil" || { cat "$IT_DIR/err.ceil"; it_fail "the ceiling is not named"; }
[ $(( $(date +%s) - t0 )) -lt 30 ] || it_fail "the ceiling did not stop the build in time"
ok "a chatty step is cancelled at build_timeout (exit 5, 'build exceeded 5s')"

# ---- the provisioner's variables, and the config file first -----------------------------------
gated crewai "sleep 53"
rc=0; MOLECULE_BUILD_STALL_GRACE_S=3 mc ensure crewai --network none >/dev/null 2>"$IT_DIR/err.env" || rc=$?
[ $rc = 5 ] && grep -q "no build progress for 3s" "$IT_DIR/err.env" || { cat "$IT_DIR/err.env"; it_fail "MOLECULE_BUILD_STALL_GRACE_S: exit $rc"; }
no_sleeper "sleep 53" || it_fail "sleep 53 still runs"
gated deepagents "sleep 59"
mkdir -p "$XDG_CONFIG_HOME/molcache"
printf 'build_stall_grace = 2s\n' >"$XDG_CONFIG_HOME/molcache/config"
rc=0; MOLECULE_BUILD_STALL_GRACE_S=300 mc ensure deepagents --network none >/dev/null 2>"$IT_DIR/err.cfg" || rc=$?
[ $rc = 5 ] && grep -q "no build progress for 2s" "$IT_DIR/err.cfg" || { cat "$IT_DIR/err.cfg"; it_fail "config over env: exit $rc"; }
printf 'build_timeout = soon\n' >"$XDG_CONFIG_HOME/molcache/config"
rc=0; mc ensure deepagents 2>/dev/null || rc=$?
[ $rc = 2 ] || it_fail "a bad build_timeout: exit $rc, want 2"
rm -f "$XDG_CONFIG_HOME/molcache/config"
no_sleeper "sleep 59" || it_fail "sleep 59 still runs"
ok "MOLECULE_BUILD_STALL_GRACE_S is honoured; the config file comes first; a bad value exits 2"
