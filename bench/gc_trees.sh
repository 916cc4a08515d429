#!/usr/bin/env bash
# gc_trees.sh — times `molcache gc --dry-run` on a root of N entries (default
# 100 000) whose build trees really exist: N rows, N directories trees/<key>
# (one small file each) and N lock files locks/<key>.lock, as ensure leaves them.
# gc lists trees/ and locks/, matches every tree and lock to its row, checks
# every row's image against the engine's list, plans and sweeps; each of those
# must stay linear (or n log n) in N.
#
#   MOLCACHE=/path/to/molcache DOCKER_HOST=unix://… bash bench/gc_trees.sh [ROWS]
#
# Every row's image is one image the engine really holds (IMAGE, default the
# first image the engine lists), so no row counts as gone and the planner sees
# all of them. Each command runs 5 times; the best and the median wall time are
# printed. The index is created by molcache itself, then filled with sqlite3.
set -euo pipefail

: "${MOLCACHE:?MOLCACHE must point at the molcache binary}"
: "${DOCKER_HOST:?DOCKER_HOST must name a running engine}"
ROWS=${1:-100000}
DIR=$(mktemp -d /tmp/mc-bench-gc.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
export MOLCACHE_HOME=$DIR/cache XDG_CONFIG_HOME=$DIR/config HOME=$DIR

sock=${DOCKER_HOST#unix://}
IMAGE=${IMAGE:-$(curl -sf --unix-socket "$sock" http://d/images/json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Id"])')}

"$MOLCACHE" status --json >/dev/null # creates the root and the current schema
now=$(date +%s%3N)
sqlite3 "$MOLCACHE_HOME/index.db" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS),
rows AS (SELECT i, lower(hex(randomblob(32))) AS key,
	json_extract('["autogen","claude-code","codex","crewai","deepagents","gemini-cli","hermes","langgraph","openclaw"]',
		'\$[' || (i % 9) || ']') AS runtime FROM n)
INSERT INTO entries (key, runtime, repo_prefix, ref, head_sha, dockerfile_path, dockerfile_hash, platform,
	build_args, image_tag, image_id, tree_path, state, tree_bytes, image_bytes, created_ms, last_used_ms,
	build_ms, use_count)
SELECT key, runtime, 'https://git.example.org/org/workspace-template-', '', lower(hex(randomblob(20))),
	'Dockerfile', lower(hex(randomblob(32))), 'linux/amd64', '',
	'molcache/' || runtime || ':' || substr(key, 1, 12), '$IMAGE',
	'$MOLCACHE_HOME/trees/' || key, 1, 4096, 100000000 + i * 13 % 900000000,
	$now - i * 60000, $now - i * 30000, 20000 + i % 60000, i % 40
FROM rows;
INSERT INTO latest (runtime, key) SELECT runtime, key FROM entries e
	WHERE last_used_ms = (SELECT max(last_used_ms) FROM entries WHERE runtime = e.runtime);
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
sqlite3 "$MOLCACHE_HOME/index.db" 'SELECT key FROM entries' | python3 -c '
import os, sys
root = os.environ["MOLCACHE_HOME"]
for key in sys.stdin.read().split():
	t = os.path.join(root, "trees", key)
	os.mkdir(t)
	with open(os.path.join(t, "Dockerfile"), "w") as f:
		f.write("FROM scratch\n")
	open(os.path.join(root, "locks", key + ".lock"), "w").close()
'
echo "root: $(sqlite3 "$MOLCACHE_HOME/index.db" 'SELECT count(*) FROM entries') rows," \
	"$(ls "$MOLCACHE_HOME/trees" | wc -l) trees, $(ls "$MOLCACHE_HOME/locks" | wc -l) lock files"

# bench NAME CMD...: 5 runs, best and median in ms
bench() {
	local name=$1 t0 t1 i
	shift
	local times=()
	for i in 1 2 3 4 5; do
		t0=$(date +%s%N)
		"$@" >/dev/null
		t1=$(date +%s%N)
		times+=($(((t1 - t0) / 1000000)))
	done
	IFS=$'\n' read -r -d '' -a sorted < <(printf '%s\n' "${times[@]}" | sort -n && printf '\0') || true
	printf '%-40s best %5d ms  median %5d ms\n' "$name" "${sorted[0]}" "${sorted[2]}"
}

bench "gc --dry-run (no policy: the sweeps)" "$MOLCACHE" gc --dry-run -q
bench "gc --dry-run --max-age 7d" "$MOLCACHE" gc --dry-run --max-age 7d -q
"$MOLCACHE" gc --max-size 1T -q # remembers the engine's layers once (a real run)
bench "gc --dry-run --max-size 1T --keep 3" "$MOLCACHE" gc --dry-run --max-size 1T --keep 3 -q
