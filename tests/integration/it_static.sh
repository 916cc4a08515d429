# it_static.sh — the static binary (scripts/static.sh, musl) runs `ensure` from
# inside a container that has no libc at all: the fixture's busybox-static base
# image, with the binary, the engine socket (at /var/run/docker.sock, the
# default), the template repos (file://) and a cache root bind-mounted. It
# builds, then hits, and prints the same tag as the dynamic build ($MOLCACHE)
# for the same inputs. MC_STATIC_BIN names the static binary: CTest registers
# this test only when it is given, and here a missing binary fails, never skips.
. "$(dirname "$0")/lib.sh"
[ -n "${MC_STATIC_BIN:-}" ] || it_fail "MC_STATIC_BIN is not set: build it with scripts/static.sh"
[ -x "$MC_STATIC_BIN" ] || it_fail "MC_STATIC_BIN '$MC_STATIC_BIN' is not an executable file"
it_setup

sock=$(engine_sock)
# in_container NAME CMD...: runs CMD in a new container of the base image with
# the static binary at /usr/local/bin/molcache; stdout in $IT_DIR/NAME.out,
# stderr in $IT_DIR/NAME.err, exit status as its own. Network: none (the repos
# are file://, the engine a unix socket).
in_container() {
	local name=$1 cid body
	shift
	body=$(python3 - "$MC_BASE_IMAGE" "$MC_STATIC_BIN" "$sock" "$GITROOT" "$IT_DIR/cache-static" \
		"$MOLCACHE_REPO_PREFIX" "$@" <<'PY'
import json, sys
image, binary, sock, gitroot, home, prefix, *cmd = sys.argv[1:]
print(json.dumps({
    "Image": image, "Cmd": cmd,
    "Env": ["MOLCACHE_HOME=" + home, "MOLCACHE_REPO_PREFIX=" + prefix, "HOME=/root"],
    "HostConfig": {"NetworkMode": "none", "Binds": [
        binary + ":/usr/local/bin/molcache:ro", sock + ":/var/run/docker.sock",
        gitroot + ":" + gitroot + ":ro", home + ":" + home]},
}))
PY
	)
	cid=$(curl -sf --unix-socket "$sock" -H 'Content-Type: application/json' -d "$body" \
		"http://d/containers/create" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Id"])') ||
		it_fail "cannot create a container of $MC_BASE_IMAGE"
	engine_req POST "/containers/$cid/start" >"$IT_DIR/$name.start"
	[ ! -s "$IT_DIR/$name.start" ] || it_fail "cannot start the container: $(cat "$IT_DIR/$name.start")"
	rc=$(engine_req POST "/containers/$cid/wait" | python3 -c 'import json,sys; print(json.load(sys.stdin)["StatusCode"])')
	# the logs endpoint multiplexes both streams: 8-byte frame headers, stream 1 or 2
	engine_get "/containers/$cid/logs?stdout=1&stderr=1" | python3 -c '
import sys
data, out = sys.stdin.buffer.read(), {1: open(sys.argv[1], "wb"), 2: open(sys.argv[2], "wb")}
while len(data) >= 8:
    n = int.from_bytes(data[4:8], "big")
    out.get(data[0], out[2]).write(data[8:8 + n])
    data = data[8 + n:]
' "$IT_DIR/$name.out" "$IT_DIR/$name.err"
	engine_req DELETE "/containers/$cid?force=1" >/dev/null
	return "$rc"
}

file "$MC_STATIC_BIN" | grep -q 'statically linked' || it_fail "not a static binary: $(file "$MC_STATIC_BIN")"
mkdir -p "$IT_DIR/cache-static"
in_container libc /bin/sh -c 'find / -xdev \( -name "libc.*" -o -name "libc-*" -o -name "ld-linux*" -o -name "ld-musl*" \) -print; ls -d /lib /lib64 /usr/lib 2>/dev/null; true' ||
	it_fail "the base image cannot run a shell: $(cat "$IT_DIR/libc.err")"
[ ! -s "$IT_DIR/libc.out" ] || it_fail "the base image has a libc or a lib directory: $(cat "$IT_DIR/libc.out")"
in_container version /usr/local/bin/molcache version ||
	it_fail "the static binary does not run in the libc-less image (exit $?): $(cat "$IT_DIR/version.err")"
grep -q '^molcache ' "$IT_DIR/version.out" || it_fail "version printed: $(cat "$IT_DIR/version.out")"
ok "the base image has no libc and no lib directory; the static binary runs there: $(cat "$IT_DIR/version.out")"

src=$(simple_template claude-code)
echo data >"$src/file.txt"
ln -s file.txt "$src/link.txt"
mkrepo claude-code "$src"

# cold, from inside the container: one fetch, one build (libarchive linked in)
in_container cold /usr/local/bin/molcache ensure claude-code --network none ||
	{ cat "$IT_DIR/cold.err" >&2; it_fail "cold ensure in the container (exit $?)"; }
tag_static=$(cat "$IT_DIR/cold.out")
[[ $tag_static == molcache/claude-code:* ]] || it_fail "tag shape: '$tag_static'"
image_exists "$tag_static" || it_fail "image $tag_static not in the engine"
db=$IT_DIR/cache-static/index.db
c() { sqlite3 "$db" "SELECT coalesce((SELECT value FROM counters WHERE name='$1'),0)"; }
[ "$(c builds)" = 1 ] && [ "$(c misses)" = 1 ] || it_fail "cold counters: builds=$(c builds) misses=$(c misses)"
ok "cold ensure in the container builds $tag_static"

# hit, from inside the container: same tag, nothing built
in_container hit /usr/local/bin/molcache ensure claude-code --network none ||
	{ cat "$IT_DIR/hit.err" >&2; it_fail "hit in the container"; }
[ "$(cat "$IT_DIR/hit.out")" = "$tag_static" ] || it_fail "hit printed '$(cat "$IT_DIR/hit.out")', want $tag_static"
[ "$(c builds)" = 1 ] && [ "$(c hits)" = 1 ] || it_fail "hit counters: builds=$(c builds) hits=$(c hits)"
ok "a hit in the container prints the same tag and builds nothing"

# the dynamic build on the host, its own cache root, the same inputs: the same tag
export MOLCACHE_HOME=$IT_DIR/cache-dynamic
tag_dyn=$(mc ensure claude-code --network none 2>"$IT_DIR/dyn.err") || { cat "$IT_DIR/dyn.err" >&2; it_fail "dynamic ensure"; }
[ "$tag_dyn" = "$tag_static" ] || it_fail "the dynamic build printed $tag_dyn, the static one $tag_static"
ok "the dynamic build prints the same tag: $tag_dyn"
