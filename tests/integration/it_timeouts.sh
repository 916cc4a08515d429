# it_timeouts.sh — a remote that accepts and never answers: ensure and explain
# give up after remote_timeout with exit 3, the masked URL and a hint (git://
# and http://); a config file that is a FIFO or a directory is refused (exit 2)
# without blocking; --network is checked before any I/O from flag, env and file.
. "$(dirname "$0")/lib.sh"
it_setup

# a listener on 127.0.0.1 that accepts every connection and never sends a byte
python3 - "$IT_DIR/port" <<'PY' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
s.settimeout(1.0)
deadline = time.time() + 120
while time.time() < deadline:
    try:
        c, _ = s.accept(); held.append(c)
    except socket.timeout:
        pass
PY
silent=$!
trap 'it_rc=$?; kill $silent 2>/dev/null; it_teardown' EXIT
for _ in $(seq 100); do [ -s "$IT_DIR/port" ] && break; sleep 0.05; done
port=$(cat "$IT_DIR/port")

for scheme in git http; do
	for cmd in ensure explain; do
		t0=$(date +%s%N)
		rc=0
		MOLCACHE_REMOTE_TIMEOUT=2 MOLCACHE_REPO_PREFIX="$scheme://user:s3cr3t@127.0.0.1:$port/workspace-template-" \
			timeout 60 "$MOLCACHE" $cmd codex 2>"$IT_DIR/err" >/dev/null || rc=$?
		ms=$(( ($(date +%s%N) - t0) / 1000000 ))
		[ $rc = 3 ] || { cat "$IT_DIR/err"; it_fail "$scheme $cmd: exit $rc, want 3"; }
		[ $ms -lt 15000 ] || it_fail "$scheme $cmd took $ms ms with remote_timeout 2 s"
		grep -q "127.0.0.1:$port" "$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "$scheme $cmd: URL not named"; }
		grep -q "no answer after 2 s" "$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "$scheme $cmd: no timeout message"; }
		grep -q "^hint: .*remote_timeout" "$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "$scheme $cmd: no hint"; }
		! grep -q s3cr3t "$IT_DIR/err" || it_fail "$scheme $cmd: the password leaked"
		ok "$scheme:// silent remote: $cmd exits 3 after $ms ms, URL masked, hint names remote_timeout"
	done
done

# remote_timeout from the config file; a bad value is a usage error
mkdir -p "$XDG_CONFIG_HOME/molcache"
printf 'remote_timeout = 1\n' >"$XDG_CONFIG_HOME/molcache/config"
rc=0
MOLCACHE_REPO_PREFIX="git://127.0.0.1:$port/workspace-template-" timeout 60 "$MOLCACHE" ensure codex 2>"$IT_DIR/err" || rc=$?
[ $rc = 3 ] && grep -q "no answer after 1 s" "$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "config remote_timeout: exit $rc"; }
printf 'remote_timeout = soon\n' >"$XDG_CONFIG_HOME/molcache/config"
rc=0; mc ensure codex 2>"$IT_DIR/err" || rc=$?
[ $rc = 2 ] || it_fail "bad remote_timeout: exit $rc, want 2"
ok "remote_timeout from the config file; a bad value exits 2"

# a FIFO or a directory where the config file should be: exit 2, at once
rm -f "$XDG_CONFIG_HOME/molcache/config"
mkfifo "$XDG_CONFIG_HOME/molcache/config"
rc=0; timeout 10 "$MOLCACHE" status 2>"$IT_DIR/err" >/dev/null || rc=$?
[ $rc = 2 ] && grep -q "not a regular file (a fifo)" "$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "fifo config: exit $rc, want 2"; }
rm -f "$XDG_CONFIG_HOME/molcache/config"
mkdir "$XDG_CONFIG_HOME/molcache/config"
rc=0; timeout 10 "$MOLCACHE" status 2>"$IT_DIR/err" >/dev/null || rc=$?
[ $rc = 2 ] && grep -q "not a regular file (a directory)" "$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "directory config: exit $rc, want 2"; }
rmdir "$XDG_CONFIG_HOME/molcache/config"
printf 'lock_timeout = 5\n' >"$IT_DIR/real-config"
ln -s "$IT_DIR/real-config" "$XDG_CONFIG_HOME/molcache/config"
mc status >/dev/null 2>"$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "a symlink to a regular config file was refused"; }
rm -f "$XDG_CONFIG_HOME/molcache/config"
ok "a FIFO or a directory as the config file exits 2 at once; a symlink to a file is read"

# --network: flag, environment and file alike, before any I/O (the remote is the silent one)
export MOLCACHE_REPO_PREFIX="git://127.0.0.1:$port/workspace-template-"
rc=0; timeout 10 "$MOLCACHE" ensure codex --network bogus 2>"$IT_DIR/err" || rc=$?
[ $rc = 2 ] && grep -q "network 'bogus'" "$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "--network bogus: exit $rc"; }
rc=0; MOLCACHE_NETWORK=bogus timeout 10 "$MOLCACHE" ensure codex 2>"$IT_DIR/err" || rc=$?
[ $rc = 2 ] || { cat "$IT_DIR/err"; it_fail "MOLCACHE_NETWORK=bogus: exit $rc"; }
printf 'networkmode = bogus\n' >"$XDG_CONFIG_HOME/molcache/config"
rc=0; timeout 10 "$MOLCACHE" ensure codex 2>"$IT_DIR/err" || rc=$?
[ $rc = 2 ] || { cat "$IT_DIR/err"; it_fail "networkmode = bogus: exit $rc"; }
rm -f "$XDG_CONFIG_HOME/molcache/config"
ok "--network bogus, MOLCACHE_NETWORK=bogus and networkmode = bogus exit 2 before any I/O"

# a base image on a registry that never answers: the engine's pull is given up
# after registry_stall (the engine itself would wait far longer)
src=$(simple_template crewai)
printf 'FROM 127.0.0.1:%s/mc/silent:1\nRUN true\n' "$port" >"$src/Dockerfile"
mkrepo crewai "$src"
t0=$(date +%s%N); rc=0
MOLCACHE_REPO_PREFIX="file://$GITROOT/workspace-template-" MOLCACHE_REGISTRY_STALL=3s \
	timeout 120 "$MOLCACHE" ensure crewai --network none >/dev/null 2>"$IT_DIR/err" || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $rc = 5 ] || { cat "$IT_DIR/err"; it_fail "pull from a silent registry: exit $rc, want 5"; }
grep -q "no progress for 3s" "$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "the pull's timeout is not named"; }
[ $ms -lt 30000 ] || it_fail "the pull took $ms ms with registry_stall 3 s"
ok "a pull from a registry that never answers is given up after registry_stall ($ms ms, exit 5)"
