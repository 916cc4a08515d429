# it_podman.sh — molcache against Podman's Docker-compatible API (issue 17 item 3,
# docs/podman.md). A private `podman system service` (vfs, its own root, runroot
# and tmpdir under a short temp dir) with the busybox base imported through the
# compat API (POST /images/create?fromSrc=-), as engine.sh does for dockerd.
#  - ensure builds (a miss), ensure again hits with the same tag, the image is
#    in podman with molcache's labels, doctor's engine check passes.
#  - With a registry (the fixture's, plain http) and no registries.conf entry:
#    the push fails the way Podman says it ("HTTP response to HTTPS client"),
#    ensure still serves (exit 0, one warning), push_failures counts it; the
#    "partial sharing is off" warning comes exactly once.
#  - Podman restarted with registries.conf `insecure = true`: the push
#    succeeds, status counts it, and the digest molcache reports is the one
#    the registry serves (Podman's push stream has no aux.Digest).
#  - A second cache root pulls that image from the registry through Podman:
#    a registry hit, no build, the same tag.
# podman is installed by scripts/deps.sh: a missing podman is a failure, not a skip.
. "$(dirname "$0")/lib.sh"
it_setup
export MOLCACHE_RUNTIMES=claude-code

command -v podman >/dev/null 2>&1 || it_fail "podman is not installed (scripts/deps.sh installs it)"
PD=$(mktemp -d /tmp/mc-pod.XXXXXX) # short: the service's socket path must fit in sun_path
PSOCK=$PD/podman.sock
P_HOST=unix://$PSOCK
PPID_FILE=$PD/service.pid

# pod_start [REGISTRIES_CONF]: the service in the background, ready on its socket
pod_start() {
	local conf=${1:-$PD/registries-empty.conf} i
	: >"$PD/registries-empty.conf"
	CONTAINERS_REGISTRIES_CONF=$conf setsid podman --root "$PD/root" --runroot "$PD/run" --tmpdir "$PD/tmp" \
		--volumepath "$PD/vol" --network-config-dir "$PD/net" --storage-driver vfs \
		--cgroup-manager cgroupfs --events-backend none \
		system service --time=0 "$P_HOST" </dev/null >>"$IT_DIR/podman.log" 2>&1 &
	echo $! >"$PPID_FILE"
	for ((i = 0; i < 300; i++)); do
		curl -sf --max-time 2 --unix-socket "$PSOCK" http://d/_ping >/dev/null 2>&1 && return 0
		kill -0 "$(cat "$PPID_FILE")" 2>/dev/null || { tail -20 "$IT_DIR/podman.log" >&2; it_fail "podman system service exited"; }
		sleep 0.1
	done
	tail -20 "$IT_DIR/podman.log" >&2
	it_fail "podman system service did not answer /_ping within 30s"
}

# pod_stop: TERM the service (and only it), wait for it to go
pod_stop() {
	local pid i
	[ -f "$PPID_FILE" ] || return 0
	pid=$(cat "$PPID_FILE")
	if grep -qaF -- "$PSOCK" "/proc/$pid/cmdline" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			grep -qaF -- "$PSOCK" "/proc/$pid/cmdline" 2>/dev/null || break
			sleep 0.1
		done
		grep -qaF -- "$PSOCK" "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$PPID_FILE" "$PSOCK"
}

pod_cleanup() {
	local m
	pod_stop
	# vfs needs no mounts, but whatever podman mounted under PD goes, deepest first
	while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done < <(awk '{print $2}' /proc/mounts | { grep -F "$PD/" || true; } | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-)
	rm -rf "$PD"
}
trap 'rc=$?; pod_cleanup; (exit $rc); it_teardown' EXIT

p_get() { curl -sf --unix-socket "$PSOCK" "http://d$1"; }
p_exists() { [ "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$PSOCK" "http://d/images/$1/json")" = 200 ]; }
p_label() { p_get "/images/$1/json" | python3 -c 'import json,sys; print((json.load(sys.stdin)["Config"]["Labels"] or {}).get(sys.argv[1],""))' "$2"; }
pm() { DOCKER_HOST=$P_HOST "$MOLCACHE" "$@"; }
run() { # run WANT_RC NAME CMD...: stdout NAME.out, stderr NAME.err
	local want=$1 name=$2 rc
	shift 2
	set +e
	"$@" >"$IT_DIR/$name.out" 2>"$IT_DIR/$name.err"
	rc=$?
	set -e
	[ "$rc" = "$want" ] || { cat "$IT_DIR/$name.err" >&2; it_fail "$name: exit $rc, want $want"; }
}

# ---- the service and its base image ---------------------------------------------
pod_start
ping_hdr=$(curl -sfI --unix-socket "$PSOCK" http://d/_ping | tr -d '\r')
grep -qi '^Libpod-Api-Version:' <<<"$ping_hdr" || it_fail "the service at $PSOCK is not Podman: $ping_hdr"
ok "podman $(podman --version | awk '{print $3}') system service answers on $PSOCK"

root=$PD/rootfs
mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/root"
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$PD/busybox.tar" .
out=$(curl -sS --fail-with-body --unix-socket "$PSOCK" -X POST -H 'Content-Type: application/x-tar' \
	--data-binary @"$PD/busybox.tar" "http://d/images/create?fromSrc=-&repo=${MC_BASE_IMAGE%:*}&tag=${MC_BASE_IMAGE##*:}") ||
	it_fail "import of the base image into podman failed: $out"
grep -q '"error"' <<<"$out" && it_fail "import of the base image into podman failed: $out"
rm -rf "$root" "$PD/busybox.tar"
p_exists "$MC_BASE_IMAGE" || it_fail "base image $MC_BASE_IMAGE not in podman after the import"
ok "base image $MC_BASE_IMAGE imported into podman through the compat API"

# ---- build, hit, doctor ---------------------------------------------------------------
mkrepo claude-code "$(simple_template a)"
run 0 miss pm ensure claude-code --network none
TAG=$(cat "$IT_DIR/miss.out")
[[ $TAG == molcache/claude-code:* ]] || it_fail "ensure printed '$TAG'"
grep -q "built $TAG" "$IT_DIR/miss.err" || it_fail "the first ensure did not build: $(cat "$IT_DIR/miss.err")"
[ "$(counter builds)" = 1 ] || it_fail "builds=$(counter builds), want 1"
grep -q 'partial sharing' "$IT_DIR/miss.err" && it_fail "a BuildKit warning without a registry"
grep -rqs --include='*.log' '^STEP 1/[0-9]*: FROM ' "$MOLCACHE_HOME" || it_fail "no build log with Buildah's steps under $MOLCACHE_HOME"
ok "ensure builds against podman (a miss): $TAG, Buildah's steps in the build log"

p_exists "$TAG" || it_fail "$TAG is not in podman"
[ "$(p_label "$TAG" molcache.commit)" = "$(git -C "$IT_DIR/work/claude-code" rev-parse HEAD)" ] ||
	it_fail "$TAG in podman lacks molcache.commit of the template's commit"
ok "the image is in podman with molcache's labels"

run 0 hit pm ensure claude-code --network none
[ "$(cat "$IT_DIR/hit.out")" = "$TAG" ] || it_fail "the second ensure printed '$(cat "$IT_DIR/hit.out")', want $TAG"
grep -q "hit $TAG" "$IT_DIR/hit.err" || it_fail "the second ensure was not a hit: $(cat "$IT_DIR/hit.err")"
[ "$(counter builds)" = 1 ] && [ "$(counter hits)" = 1 ] || it_fail "builds=$(counter builds) hits=$(counter hits), want 1 and 1"
ok "ensure again is a hit with the same tag"

run 0 doctor pm doctor --no-remotes --no-build
grep -q "^PASS  engine .*$PSOCK" "$IT_DIR/doctor.out" || it_fail "doctor's engine check: $(cat "$IT_DIR/doctor.out")"
ok "doctor --no-remotes --no-build passes its engine check against podman"

# ---- a registry Podman does not trust for plain http ----------------------------------
commit claude-code f "two"
run 0 push-refused pm ensure claude-code --network none --registry "$MC_REGISTRY/pod"
TAG2=$(cat "$IT_DIR/push-refused.out")
[ "$TAG2" != "$TAG" ] && p_exists "$TAG2" || it_fail "the ensure with a refused push did not serve a new image"
grep -q 'HTTP response to HTTPS client' "$IT_DIR/push-refused.err" ||
	it_fail "podman's refusal of plain http is not in the warning: $(cat "$IT_DIR/push-refused.err")"
grep -q "warning: registry push: .*; serving the local build" "$IT_DIR/push-refused.err" &&
	! grep -q "registry push: .*building locally" "$IT_DIR/push-refused.err" ||
	it_fail "a failed push after the build does not say the local build is served: $(cat "$IT_DIR/push-refused.err")"
[ "$(counter push_failures)" = 1 ] && [ "$(counter pushes)" = 0 ] ||
	it_fail "push_failures=$(counter push_failures) pushes=$(counter pushes), want 1 and 0"
n=$(grep -c 'warning: partial sharing is off: the engine has no BuildKit' "$IT_DIR/push-refused.err" || true)
[ "$n" = 1 ] || it_fail "the no-BuildKit warning came $n times, want 1: $(cat "$IT_DIR/push-refused.err")"
ok "without registries.conf insecure=true the push fails with podman's reason, ensure serves (exit 0), one no-BuildKit warning"

# ---- the same registry marked insecure: the push works and reports its digest ---------
pod_stop
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$MC_REGISTRY" >"$PD/registries.conf"
pod_start "$PD/registries.conf"
commit claude-code f "three"
run 0 push pm ensure claude-code --network none --registry "$MC_REGISTRY/pod"
TAG3=$(cat "$IT_DIR/push.out")
KEY3=$(p_label "$TAG3" molcache.key)
[ -n "$KEY3" ] || it_fail "no key for $TAG3"
pm status --json >"$IT_DIR/status.json"
python3 - "$IT_DIR/status.json" <<'PY' || it_fail "status --json does not count the push: $(grep -E '"push' "$IT_DIR/status.json")"
import json, sys
c = json.load(open(sys.argv[1]))["counters"]
sys.exit(0 if c["pushes"] == 1 and c["push_failures"] == 1 else 1)
PY
reg_digest=$(curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
	"http://$MC_REGISTRY/v2/pod/claude-code/manifests/$KEY3" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
[[ $reg_digest == sha256:* ]] || it_fail "$MC_REGISTRY/pod/claude-code:$KEY3 is not in the registry"
grep -q "pushed $MC_REGISTRY/pod/claude-code:$KEY3 $reg_digest\$" "$IT_DIR/push.err" ||
	it_fail "molcache did not report the pushed digest $reg_digest: $(grep push "$IT_DIR/push.err")"
ok "with registries.conf insecure=true podman pushes $MC_REGISTRY/pod/claude-code:${KEY3:0:12}, status counts it, the digest is reported ($reg_digest)"

# ---- another cache root on the same podman: a registry hit ------------------------------
engine_rm() { curl -s -o /dev/null -X DELETE --unix-socket "$PSOCK" "http://d/images/$1"; }
engine_rm "$TAG3"
engine_rm "molcache/claude-code:latest"
MOLCACHE_HOME=$IT_DIR/cache2 run 0 pull pm ensure claude-code --network none --registry "$MC_REGISTRY/pod"
[ "$(cat "$IT_DIR/pull.out")" = "$TAG3" ] || it_fail "the second root printed '$(cat "$IT_DIR/pull.out")', want $TAG3"
c2() { sqlite3 "$IT_DIR/cache2/index.db" "SELECT coalesce((SELECT value FROM counters WHERE name='$1'),0)"; }
[ "$(c2 registry_hits)" = 1 ] && [ "$(c2 builds)" = 0 ] || it_fail "root 2: registry_hits=$(c2 registry_hits) builds=$(c2 builds)"
p_exists "$TAG3" || it_fail "$TAG3 not in podman after the registry hit"
ok "a second cache root pulls the pushed image through podman (registry hit, no build)"

# ---- gc frees an evicted entry's image in podman (tags read as dockerd writes them) -----
rc=0
pm gc --max-age 1s --include-latest --grace 0 >"$IT_DIR/gc.out" 2>"$IT_DIR/gc.err" || rc=$?
[ $rc = 0 ] || { cat "$IT_DIR/gc.out" "$IT_DIR/gc.err"; it_fail "gc against podman: exit $rc"; }
! grep -q "also tagged docker.io/" "$IT_DIR/gc.out" || { cat "$IT_DIR/gc.out"; it_fail "gc kept an image for podman's qualified tag"; }
! p_exists "$TAG" || { cat "$IT_DIR/gc.out"; it_fail "gc left $TAG in podman"; }
ok "gc --max-age evicts against podman and removes $TAG (podman's docker.io/ tags read as molcache/…)"
