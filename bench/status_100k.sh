#!/usr/bin/env bash
# status_100k.sh — times `molcache status` and `molcache ls` on an index of N rows
# (default 100 000) spread over 9 runtimes, with a build record per row, :latest
# pointers, counters and a gc run. status needs no engine: it reads only the
# index. With DOCKER_HOST naming a running engine, `gc --dry-run` (the whole
# command: rows, facts from the engine, plan, sweeps) is timed too; the rows'
# images do not exist there, as in a cache whose engine was pruned.
#
#   MOLCACHE=/path/to/molcache [DOCKER_HOST=unix://…] bash bench/status_100k.sh [ROWS]
#
# The index is created by molcache itself (so the schema is the binary's), then
# filled with the sqlite3 CLI in one transaction. Each command runs 5 times; the
# best and the median wall time are printed. Target: status < 100 ms.
set -euo pipefail

: "${MOLCACHE:?MOLCACHE must point at the molcache binary}"
ROWS=${1:-100000}
DIR=$(mktemp -d /tmp/mc-bench-status.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
export MOLCACHE_HOME=$DIR/cache XDG_CONFIG_HOME=$DIR/config HOME=$DIR
ENGINE=${DOCKER_HOST:-}
unset DOCKER_HOST

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
	'Dockerfile', lower(hex(randomblob(32))), 'linux/amd64', CASE WHEN i % 7 = 0 THEN 'A=1' ELSE '' END,
	'molcache/' || runtime || ':' || substr(key, 1, 12), 'sha256:' || lower(hex(randomblob(32))),
	'$MOLCACHE_HOME/trees/' || key, CASE WHEN i % 50 = 0 THEN 2 ELSE 1 END, 1000 + i % 5000,
	100000000 + i * 13 % 900000000, $now - i * 60000, $now - i * 30000, 20000 + i % 60000, i % 40
FROM rows;
INSERT INTO builds (key, started_ms, duration_ms, ok, log_path)
	SELECT key, created_ms, build_ms, state = 1, '$MOLCACHE_HOME/logs/' || key || '.log' FROM entries;
INSERT INTO latest (runtime, key) SELECT runtime, key FROM entries e
	WHERE last_used_ms = (SELECT max(last_used_ms) FROM entries WHERE runtime = e.runtime);
INSERT INTO counters (name, value) VALUES ('hits', 5 * $ROWS), ('misses', $ROWS), ('builds', $ROWS),
	('build_failures', $ROWS / 50);
INSERT INTO gc_runs (started_ms, duration_ms, evicted, bytes_freed, errors) VALUES ($now - 3600000, 5000, 120, 987654321, 0);
COMMIT;
SQL
echo "index: $(sqlite3 "$MOLCACHE_HOME/index.db" 'SELECT count(*) FROM entries') rows, $(du -h "$MOLCACHE_HOME/index.db" | cut -f1)"

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
	printf '%-34s best %4d ms  median %4d ms\n' "$name" "${sorted[0]}" "${sorted[2]}"
}

run_all() {
bench "status --json" "$MOLCACHE" status --json
bench "status" "$MOLCACHE" status
bench "status --format prometheus" "$MOLCACHE" status --format prometheus
bench "ls --json" "$MOLCACHE" ls --json
bench "ls" "$MOLCACHE" ls
bench "ls --runtime codex --sort size" "$MOLCACHE" ls --runtime codex --sort size
bench "show claude-code --json" "$MOLCACHE" show claude-code --json
}

# a real cache's auto-checkpoints keep the WAL small; the bulk fill left it whole
sqlite3 "$MOLCACHE_HOME/index.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
bench "version (process start floor)" "$MOLCACHE" version
run_all
if [ -n "$ENGINE" ]; then
	export DOCKER_HOST=$ENGINE
	bench "gc --dry-run (sweep only)" "$MOLCACHE" gc --dry-run -q
	bench "gc --dry-run --max-age 7d" "$MOLCACHE" gc --dry-run --max-age 7d -q
	bench "gc --dry-run --max-size 1T --keep 3" "$MOLCACHE" gc --dry-run --max-size 1T --keep 3 -q
else
	echo "gc --dry-run: not timed (set DOCKER_HOST to a running engine)"
fi
