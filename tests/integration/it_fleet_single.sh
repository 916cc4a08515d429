# it_fleet_single.sh — issue 17 item 4: a fleet-wide single build (docs/fleet.md,
# "A fleet-wide single build"). Three hosts: A is the fixture's dockerd, B and C
# are private dockerds started here (engine.sh in their own directories), each
# with its own cache root; one registry for all: the fixture's.
#  - A new commit, three ensures at once: exactly one host builds and pushes,
#    the two others wait on its marker ("<key>.building") and pull its image
#    (registry_hits, fleet_wait_hits, no build log), one image id on the three
#    engines, and the marker is gone from the registry afterwards.
#  - A crashed builder: an ensure killed (-9) mid-build leaves its marker
#    (MOLCACHE_FLEET_MARKER_TTL=8s); the next host waits for it to expire, then
#    builds and pushes itself, within the expiry plus its own build.
#  - gc --registry deletes a marker expired twice over (by its digest), and
#    only that: the key tags stay.
. "$(dirname "$0")/lib.sh"
it_setup
export MOLCACHE_RUNTIMES=codex
REG=$MC_REGISTRY
A_HOST=$DOCKER_HOST
KILLED=

cleanup() {
	local rc=$?
	[ -n "$KILLED" ] && kill -9 "$KILLED" 2>/dev/null || true
	for h in B C; do
		MC_ENGINE_DIR=$IT_DIR/eng$h bash "$MC_SRC/tests/integration/engine.sh" stop >/dev/null 2>&1 || true
	done
	return $rc
}
trap 'cleanup; it_teardown' EXIT

# ---- hosts B and C (their own dockerd and base image; their registries go unused) ----
for h in B C; do
	mkdir -p "$IT_DIR/eng$h"
	MC_ENGINE_DIR=$IT_DIR/eng$h bash "$MC_SRC/tests/integration/engine.sh" start >"$IT_DIR/eng$h.out" 2>&1 &
	eval "start_$h=\$!"
done
for h in B C; do
	eval "pid=\$start_$h"
	wait "$pid" || { cat "$IT_DIR/eng$h.out"; it_fail "host $h's dockerd did not start"; }
done
B_HOST=$(sed -n 's/^DOCKER_HOST=//p' "$IT_DIR/engB/env")
C_HOST=$(sed -n 's/^DOCKER_HOST=//p' "$IT_DIR/engC/env")
ok "three engines (A $A_HOST, B $B_HOST, C $C_HOST), one registry $REG"

host_env() { # host_env H: DOCKER_HOST of host H
	case $1 in A) echo "$A_HOST" ;; B) echo "$B_HOST" ;; C) echo "$C_HOST" ;; esac
}
on() { # on H CMD...: molcache on host H with its own root and the shared registry
	local h=$1; shift
	DOCKER_HOST=$(host_env "$h") MOLCACHE_HOME=$IT_DIR/root$h MOLCACHE_REGISTRY=$REG/mc "$MOLCACHE" "$@"
}
cnt() { sqlite3 "$IT_DIR/root$1/index.db" "SELECT coalesce((SELECT value FROM counters WHERE name='$2'),0)" 2>/dev/null || echo 0; }
img_id_on() { curl -sf --unix-socket "$(host_env "$1" | sed 's|^unix://||')" "http://d/images/$2/json" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["Id"])'; }
tags() { curl -sf "http://$REG/v2/mc/codex/tags/list" | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["tags"] or []))'; }
marker_code() { curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
	"http://$REG/v2/mc/codex/manifests/$1.building"; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# crash_builder TTL SECS NAME: host A ensures with a marker lifetime of TTL, is
# killed (-9) SECS after its marker appears; CRASHED_KEY is the marker's key
crash_builder() {
	local t
	MOLCACHE_FLEET_MARKER_TTL=$1 DOCKER_HOST=$A_HOST MOLCACHE_HOME=$IT_DIR/rootA MOLCACHE_REGISTRY=$REG/mc \
		"$MOLCACHE" ensure codex --network none >"$IT_DIR/$3.out" 2>"$IT_DIR/$3.err" &
	KILLED=$!
	CRASHED_KEY=
	for _ in $(seq 1 200); do
		t=$(tags || true)
		CRASHED_KEY=$(sed -n '/\.building$/{s///p;q}' <<<"$t")
		[ -n "$CRASHED_KEY" ] && break
		sleep 0.1
	done
	[ -n "$CRASHED_KEY" ] || { cat "$IT_DIR/$3.err"; it_fail "A put no marker"; }
	sleep "$2" # past the settle: A builds
	kill -9 "$KILLED"
	wait "$KILLED" 2>/dev/null || true
	KILLED=
}

# a build that takes a few seconds, so that the three ensures overlap it
d=$IT_DIR/src-codex
mkdir -p "$d"
printf 'FROM %s\nRUN sleep 4 && echo built > /built.txt\n' "$MC_BASE_IMAGE" >"$d/Dockerfile"
mkrepo codex "$d"

# ---- three ensures of one new key at once ---------------------------------------------
t0=$(date +%s%N)
pids=()
for h in A B C; do
	on "$h" ensure codex --network none --log-format json >"$IT_DIR/s$h.out" 2>"$IT_DIR/s$h.err" &
	pids+=($!)
done
i=0
for h in A B C; do
	wait "${pids[$i]}" || { cat "$IT_DIR/s$h.err"; it_fail "host $h's ensure failed"; }
	i=$((i + 1))
done
ms=$(ms_since "$t0")
tag=$(cat "$IT_DIR/sA.out")
key=$(sqlite3 "$IT_DIR/rootA/index.db" "SELECT key FROM entries")
for h in B C; do [ "$(cat "$IT_DIR/s$h.out")" = "$tag" ] || it_fail "host $h printed $(cat "$IT_DIR/s$h.out"), A $tag"; done
builders=()
waiters=()
for h in A B C; do
	case "$(cnt "$h" builds)/$(cnt "$h" registry_hits)" in
	1/0) builders+=("$h") ;;
	0/1) waiters+=("$h") ;;
	*) it_fail "host $h: builds $(cnt "$h" builds), registry_hits $(cnt "$h" registry_hits)" ;;
	esac
done
[ ${#builders[@]} = 1 ] && [ ${#waiters[@]} = 2 ] ||
	it_fail "builders: ${builders[*]:-none}, pulled: ${waiters[*]:-none} (want one builder, two pulls)"
b=${builders[0]}
[ "$(cnt "$b" pushes)" = 1 ] || it_fail "the builder $b pushed $(cnt "$b" pushes) times"
for h in "${waiters[@]}"; do
	# a waiter may first see the marker of a host that then loses the race
	# for it, and follow the marker that stands: one wait or two
	[ "$(cnt "$h" fleet_waits)" -ge 1 ] && [ "$(cnt "$h" fleet_wait_hits)" = 1 ] && [ "$(cnt "$h" pushes)" = 0 ] ||
		it_fail "host $h: fleet_waits $(cnt "$h" fleet_waits), fleet_wait_hits $(cnt "$h" fleet_wait_hits), pushes $(cnt "$h" pushes)"
	[ -z "$(ls -A "$IT_DIR/root$h/logs" 2>/dev/null)" ] || it_fail "host $h wrote a build log"
	on "$h" ls --json | python3 -c 'import json,sys; e=json.load(sys.stdin)["entries"][0]; assert e["origin"]=="pulled", e' ||
		it_fail "host $h: origin is not pulled"
	on "$h" status --json | python3 -c 'import json,sys; c=json.load(sys.stdin)["counters"]; assert c["fleet_wait_hits"]==1 and c["fleet_waits"]>=1 and c["builds"]==0, c' ||
		it_fail "host $h: status --json counters"
	grep -q '^molcache_fleet_wait_hits_total 1$' <<<"$(on "$h" status --format prometheus)" || it_fail "host $h: prometheus"
	grep -q "\"event\":\"wait\".*waiting for .*'s build of codex ${key:0:12} (marker expires in " "$IT_DIR/s$h.err" ||
		{ cat "$IT_DIR/s$h.err"; it_fail "host $h: no wait event naming the builder"; }
done
on "$b" ls --json | python3 -c 'import json,sys; e=json.load(sys.stdin)["entries"][0]; assert e["origin"]=="built", e' ||
	it_fail "host $b: origin is not built"
ids=$(for h in A B C; do img_id_on "$h" "$tag"; done | sort -u)
[ "$(wc -l <<<"$ids")" = 1 ] || it_fail "image ids differ across the engines: $ids"
grep -qx "$key" <<<"$(tags)" || it_fail "the key's tag is not in the registry"
! grep -q '\.building$' <<<"$(tags)" || it_fail "a marker is left in the registry: $(tags)"
[ "$(marker_code "$key")" = 404 ] || it_fail "the marker still answers"
ok "three ensures at once ($ms ms): one build (host $b, one push), two waits and pulls (${waiters[*]}), one image id on three engines, no marker left"

# ---- a crashed builder: its marker expires, the next host builds -------------------------
commit codex Dockerfile "$(printf 'FROM %s\nRUN sleep 6 && echo two > /built.txt' "$MC_BASE_IMAGE")"
crash_builder 8s 1.5 k
key2=$CRASHED_KEY
b_builds=$(cnt B builds) b_pushes=$(cnt B pushes) c_hits=$(cnt C registry_hits) c_builds=$(cnt C builds)
t0=$(date +%s%N)
on B ensure codex --network none >"$IT_DIR/k2.out" 2>"$IT_DIR/k2.err" || { cat "$IT_DIR/k2.err"; it_fail "B after the crash"; }
ms=$(ms_since "$t0")
grep -q "waiting for .*'s build of codex ${key2:0:12} (marker expires in " "$IT_DIR/k2.err" ||
	{ cat "$IT_DIR/k2.err"; it_fail "B did not wait on the dead builder's marker"; }
grep -q "marker expired without an image: building here" "$IT_DIR/k2.err" || { cat "$IT_DIR/k2.err"; it_fail "B: no expiry said"; }
[ "$(cnt B builds)" = $((b_builds + 1)) ] && [ "$(cnt B pushes)" = $((b_pushes + 1)) ] ||
	it_fail "B: builds $b_builds -> $(cnt B builds), pushes $b_pushes -> $(cnt B pushes)"
# the marker lived 8 s from A's start, B started ~2 s later: ~6 s of waiting, then a 6 s build
[ "$ms" -ge 4000 ] || it_fail "B took $ms ms: it did not wait for the marker"
[ "$ms" -lt 40000 ] || it_fail "B took $ms ms: it waited past the marker's expiry"
grep -qx "$key2" <<<"$(tags)" || it_fail "B pushed no image"
[ "$(marker_code "$key2")" = 404 ] || it_fail "a marker is left after B's build: $(tags)"
on C ensure codex --network none >"$IT_DIR/k3.out" 2>"$IT_DIR/k3.err" || { cat "$IT_DIR/k3.err"; it_fail "C"; }
[ "$(cnt C registry_hits)" = $((c_hits + 1)) ] && [ "$(cnt C builds)" = "$c_builds" ] ||
	it_fail "C: registry_hits $c_hits -> $(cnt C registry_hits), builds $c_builds -> $(cnt C builds)"
ok "a builder killed mid-build: B waits for its marker to expire (8 s), then builds and pushes ($ms ms); C pulls; no marker left"

# ---- gc --registry deletes a dead builder's marker once it expired twice over --------------
commit codex Dockerfile "$(printf 'FROM %s\nRUN sleep 6 && echo three > /built.txt' "$MC_BASE_IMAGE")"
crash_builder 3s 0 g
key3=$CRASHED_KEY
ntags=$(tags | wc -l)
on A gc --registry --max-age 3650d --dry-run --json >"$IT_DIR/gcd.json" || it_fail "gc --registry --dry-run"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["expired_markers"]==0, d' "$IT_DIR/gcd.json" ||
	it_fail "gc --registry counts a fresh marker as expired"
sleep 6.5 # the marker (3 s) expired more than its lifetime ago
on A gc --registry --max-age 3650d --dry-run --json >"$IT_DIR/gcd.json" || it_fail "gc --registry --dry-run"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["expired_markers"]==1, d' "$IT_DIR/gcd.json" ||
	{ cat "$IT_DIR/gcd.json"; it_fail "gc --registry --dry-run: no expired marker"; }
[ "$(marker_code "$key3")" = 200 ] || it_fail "a dry run deleted the marker"
on A gc --registry --max-age 3650d >"$IT_DIR/gc.out" || it_fail "gc --registry"
grep -q "deleted 1 expired build marker" "$IT_DIR/gc.out" || { cat "$IT_DIR/gc.out"; it_fail "gc --registry said nothing of the marker"; }
[ "$(marker_code "$key3")" = 404 ] || it_fail "gc --registry left the expired marker"
[ "$(tags | wc -l)" = $((ntags - 1)) ] || it_fail "gc --registry deleted more than the marker: $(tags)"
ok "gc --registry deletes a dead builder's marker once it expired twice over (a dry run first, a fresh one kept), and nothing else"

# ---- a marker whose clock runs ahead: waited out once, never again ---------------------------
# A marker that claims to expire in an hour but has a 3 s lifetime (a builder whose
# clock is an hour ahead, then dead): a host waits at most its lifetime, once,
# then builds; it does not wait on the same marker again (4 rounds of 3 s).
commit codex Dockerfile "$(printf 'FROM %s\nRUN echo four > /built.txt' "$MC_BASE_IMAGE")"
key4=$(on A explain codex --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
python3 - "$REG" "$key4" <<'PY' || it_fail "could not put the forged marker"
import hashlib, json, sys, time, urllib.request
reg, key = sys.argv[1:3]
base = "http://%s/v2/mc/codex" % reg
now = time.time()
def ts(t): return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))
fields = {"molcache.marker.key": key, "molcache.marker.host": "ahead (root 000000000000, pid 1)",
          "molcache.marker.nonce": "0123456789abcdef0123456789abcdef", "molcache.marker.started": ts(now + 3600),
          "molcache.marker.expires": ts(now + 3603), "molcache.marker.ttl-ms": "3000"}
cfg = json.dumps(fields, sort_keys=True).encode()
d = "sha256:" + hashlib.sha256(cfg).hexdigest()
loc = urllib.request.urlopen(urllib.request.Request(base + "/blobs/uploads/", data=b"", method="POST")).headers["Location"]
if loc.startswith("/"): loc = "http://" + reg + loc
# octet-stream: Go reads a form-encoded PUT body as the form, and the digest no longer matches
urllib.request.urlopen(urllib.request.Request(loc + ("&" if "?" in loc else "?") + "digest=" + d, data=cfg, method="PUT",
                       headers={"Content-Type": "application/octet-stream"}))
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.molcache.marker.v1+json", "digest": d, "size": len(cfg)},
                  "layers": [], "annotations": fields}).encode()
urllib.request.urlopen(urllib.request.Request(base + "/manifests/%s.building" % key, data=man, method="PUT",
                       headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}))
PY
t0=$(date +%s%N)
on B ensure codex --network none --log-format json >"$IT_DIR/ahead.out" 2>"$IT_DIR/ahead.err" ||
	{ cat "$IT_DIR/ahead.err"; it_fail "ensure with a marker from the future"; }
ms=$(ms_since "$t0")
[ "$(grep -c "waiting for ahead" "$IT_DIR/ahead.err")" = 1 ] || { cat "$IT_DIR/ahead.err"; it_fail "not exactly one wait on the forged marker"; }
[ "$ms" -lt 9000 ] || { cat "$IT_DIR/ahead.err"; it_fail "a marker with a 3 s lifetime held B for $ms ms"; }
ok "a marker from a clock an hour ahead (3 s lifetime): B waits once, at most its lifetime, then builds ($ms ms)"
