# it_registry_age.sh — issue 16 item 4: gc --registry --max-age ages a tag by
# the time molcache built it (the molcache.built label), never by the image
# config's "created", which BuildKit carries over from cached steps. A new
# commit whose steps are all cached is pushed with the old "created"; gc keeps
# it while it deletes the tag really built before --max-age.
. "$(dirname "$0")/lib.sh"
it_setup

src=$IT_DIR/src-hermes
mkdir -p "$src"
printf 'FROM %s\nRUN echo one >/one\n' "$MC_BASE_IMAGE" >"$src/Dockerfile"
mkrepo hermes "$src"
reg=$MC_REGISTRY/age$$
created() { # the pushed config's "created" and the molcache.built label of tag $1
	python3 - "http://$MC_REGISTRY/v2/age$$/hermes" "$1" <<'PY'
import json, sys, urllib.request
base, tag = sys.argv[1], sys.argv[2]
req = urllib.request.Request(base + "/manifests/" + tag, headers={"Accept":
      "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"})
m = json.load(urllib.request.urlopen(req))
cfg = json.load(urllib.request.urlopen(base + "/blobs/" + m["config"]["digest"]))
print(cfg["created"], (cfg["config"].get("Labels") or {}).get("molcache.built", ""))
PY
}

t1=$(mc ensure hermes --network none --registry "$reg" -q 2>"$IT_DIR/e1") || { cat "$IT_DIR/e1"; it_fail "first ensure"; }
k1=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT key FROM entries WHERE image_tag = '$t1'")
sleep 5
commit hermes README.md "not in the build: every step is cached"
t2=$(mc ensure hermes --network none --registry "$reg" -q 2>"$IT_DIR/e2") || { cat "$IT_DIR/e2"; it_fail "second ensure"; }
k2=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT key FROM entries WHERE image_tag = '$t2'")
[ "$k1" != "$k2" ] || it_fail "the new commit gave the same key"
[ "$(counter pushes)" = 2 ] || it_fail "pushes $(counter pushes), want 2"
read -r c1 b1 <<<"$(created "$k1")"
read -r c2 b2 <<<"$(created "$k2")"
[ -n "$b1" ] && [ -n "$b2" ] || it_fail "a pushed image lacks molcache.built ('$b1', '$b2')"
python3 -c 'import sys; from datetime import datetime as d
p = lambda s: d.fromisoformat(s.rstrip("Z")[:26])
sys.exit(0 if p(sys.argv[2]) < p(sys.argv[3]) else 1)' "$c2" "$c2" "$b2" ||
	it_fail "the cached build's created ($c2) is not older than its build ($b2): nothing to show"
ok "the second push carries BuildKit's old created ($c2) and molcache.built $b2"

rc=0
MOLCACHE_REGISTRY=$reg mc gc --registry --max-age 4s >"$IT_DIR/gc.out" 2>"$IT_DIR/gc.err" || rc=$?
[ $rc = 0 ] || { cat "$IT_DIR/gc.out" "$IT_DIR/gc.err"; it_fail "gc --registry: exit $rc"; }
tags=$(curl -sf "http://$MC_REGISTRY/v2/age$$/hermes/tags/list")
grep -q "$k2" <<<"$tags" || { cat "$IT_DIR/gc.out"; it_fail "gc --registry deleted the fresh push $k2 (aged by created)"; }
! grep -q "$k1" <<<"$tags" || { cat "$IT_DIR/gc.out"; it_fail "gc --registry kept $k1, built before --max-age"; }
ok "gc --registry --max-age 4s deleted ${k1:0:12} (built > 4 s ago) and kept ${k2:0:12} (built now, created $c2)"
