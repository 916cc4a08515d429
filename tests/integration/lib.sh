# lib.sh — shared setup for integration tests: a private cache root, template
# repos made with the git CLI (tests may use it; the product never does), the
# engine fixture's environment, and small assertions. Source it, then call it_setup.
set -euo pipefail

: "${MOLCACHE:?MOLCACHE must point at the molcache binary}"
: "${MC_ENGINE_DIR:?MC_ENGINE_DIR must be set (ctest does it)}"
MC_SRC=${MC_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

it_fail() { echo "FAIL: $*" >&2; exit 1; }
it_pass=0
ok() { it_pass=$((it_pass + 1)); echo "ok - $*"; }

it_setup() {
	[ -f "$MC_ENGINE_DIR/env" ] || it_fail "engine fixture not running ($MC_ENGINE_DIR/env missing)"
	set -a; . "$MC_ENGINE_DIR/env"; set +a
	IT_DIR=$(mktemp -d "/tmp/mc-it.$(basename "$0" .sh).XXXXXX")
	export MOLCACHE_HOME=$IT_DIR/cache
	export XDG_CONFIG_HOME=$IT_DIR/config
	export HOME=$IT_DIR/home
	mkdir -p "$HOME" "$IT_DIR/git" "$IT_DIR/work"
	GITROOT=$IT_DIR/git
	export MOLCACHE_REPO_PREFIX="file://$GITROOT/workspace-template-"
	export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
	unset MOLCACHE_GIT_TOKEN MOLECULE_GITEA_TOKEN MOLCACHE_PLATFORM MOLECULE_IMAGE_PLATFORM || true
	IT_IMAGES=()
	trap it_teardown EXIT
}

# A test's own EXIT trap runs its cleanup first: 'it_rc=$?; cleanup; it_teardown'
# (it_rc keeps the test's exit status from the cleanup's).
it_teardown() {
	local rc=${it_rc:-$?}
	[ -n "${IT_GITSERVE:-}" ] && bash "$MC_SRC/tests/integration/gitserve.sh" stop "$GITROOT" >/dev/null 2>&1 || true
	# remove what this test built so tests stay independent
	for ref in $(engine_get "/images/json?filters=$(urlenc "{\"label\":[\"molcache.repo-prefix=${MOLCACHE_REPO_PREFIX_CLEAN:-$MOLCACHE_REPO_PREFIX}\"]}")" 2>/dev/null |
		python3 -c 'import json,sys; [print(i["Id"]) for i in json.load(sys.stdin)]' 2>/dev/null); do
		engine_req DELETE "/images/$ref?force=1" >/dev/null 2>&1 || true
	done
	if [ $rc = 0 ]; then rm -rf "$IT_DIR"; echo "$it_pass passed, 0 failed"; else
		echo "kept $IT_DIR for inspection" >&2; echo "$it_pass passed, 1 failed"; fi
}

urlenc() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
engine_sock() { echo "${DOCKER_HOST#unix://}"; }
engine_get() { curl -sf --unix-socket "$(engine_sock)" "http://d$1"; }
engine_req() { curl -s -X "$1" --unix-socket "$(engine_sock)" "http://d$2"; }
image_exists() { curl -s -o /dev/null -w '%{http_code}' --unix-socket "$(engine_sock)" "http://d/images/$1/json" | grep -q 200; }
image_label() { engine_get "/images/$1/json" | python3 -c 'import json,sys; print((json.load(sys.stdin)["Config"]["Labels"] or {}).get(sys.argv[1],""))' "$2"; }
image_id() { engine_get "/images/$1/json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Id"])'; }
# manifest_of TAG: /manifest of the image (a container is created, never started)
manifest_of() {
	local cid
	cid=$(curl -sf --unix-socket "$(engine_sock)" -H 'Content-Type: application/json' \
		-d "{\"Image\":\"$1\",\"Cmd\":[\"true\"]}" "http://d/containers/create" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["Id"])') || it_fail "cannot create a container of $1"
	engine_get "/containers/$cid/archive?path=/manifest" | tar -xOf - manifest
	engine_req DELETE "/containers/$cid?force=1" >/dev/null
}

# counter NAME: a counter from the index (0 when unset)
counter() { sqlite3 "$MOLCACHE_HOME/index.db" "SELECT coalesce((SELECT value FROM counters WHERE name='$1'),0)"; }

# mkrepo RUNTIME DIR: a bare repo $GITROOT/workspace-template-RUNTIME whose
# main branch holds the files of DIR (a work tree kept at $IT_DIR/work/RUNTIME).
mkrepo() {
	local rt=$1 src=$2 w=$IT_DIR/work/$1
	rm -rf "$w"; mkdir -p "$w"; cp -a "$src/." "$w/"
	git -C "$w" init -q -b main
	git -C "$w" add -A && git -C "$w" commit -qm init
	git clone -q --bare "$w" "$GITROOT/workspace-template-$rt"
	git -C "$w" remote add origin "$GITROOT/workspace-template-$rt"
}

# commit RUNTIME FILE CONTENT: a new commit on main, pushed
commit() {
	local w=$IT_DIR/work/$1
	printf '%s\n' "$3" > "$w/$2"
	git -C "$w" add -A && git -C "$w" commit -qm "change $2" && git -C "$w" push -q origin main
}

# a minimal template: FROM the fixture's local base image, one RUN step
simple_template() {
	local d=$IT_DIR/src-$1; mkdir -p "$d"
	cat > "$d/Dockerfile" <<DF
FROM $MC_BASE_IMAGE
COPY . /ctx
RUN echo built > /built.txt
DF
	echo "$d"
}

mc() { "$MOLCACHE" "$@"; }
