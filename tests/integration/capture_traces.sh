#!/usr/bin/env bash
# capture_traces.sh — captures the raw JSON-lines answers of real BuildKit builds
# (POST /build?version=2) into tests/unit/trace_records/, for test_trace.c and the
# fuzz corpus. Not run by ctest: re-run it by hand when BuildKit's output changes.
#
#   capture_traces.sh [OUTDIR [SEEDDIR]]
#
# Uses the engine named by DOCKER_HOST (unix://…) and MC_BASE_IMAGE when both are
# set; otherwise starts the test fixture (tests/integration/engine.sh) in
# $MC_ENGINE_DIR (default /tmp/mc-trace-engine) and stops it afterwards.
#
# Files written:
#   two-step.jsonl   FROM + two RUN steps, the first writing to stdout and stderr
#   cached.jsonl     the same context again: every step is a cache hit
#   failing.jsonl    RUN sh -c 'echo to-stderr >&2; echo out; exit 3'
# and in SEEDDIR (default tests/fuzz/corpus/trace/) captured-<build>-<n>: each trace
# record's protobuf bytes (the base64-decoded aux), the fuzz seeds.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
OUT=${1:-$SRC/tests/unit/trace_records}
SEEDS=${2:-$SRC/tests/fuzz/corpus/trace}
TMP=$(mktemp -d /tmp/mc-capture-XXXXXX)
STARTED=0

log() { printf 'capture_traces.sh: %s\n' "$*" >&2; }

cleanup() {
	rm -rf "$TMP"
	if ((STARTED)); then
		bash "$HERE/engine.sh" stop || true
	fi
}
trap cleanup EXIT

if [[ -z ${DOCKER_HOST:-} || -z ${MC_BASE_IMAGE:-} ]]; then
	export MC_ENGINE_DIR=${MC_ENGINE_DIR:-/tmp/mc-trace-engine}
	bash "$HERE/engine.sh" start
	STARTED=1
	set -a
	. "$MC_ENGINE_DIR/env"
	set +a
fi
[[ $DOCKER_HOST == unix://* ]] || { log "DOCKER_HOST must be unix://…, got '$DOCKER_HOST'"; exit 1; }
SOCK=${DOCKER_HOST#unix://}

# build NAME TAG QUERY-EXTRA: tars $TMP/ctx and saves the answer as $OUT/NAME.jsonl.
build() {
	local name=$1 tag=$2 extra=$3
	tar -C "$TMP/ctx" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$TMP/ctx.tar" .
	curl -sS --fail-with-body --unix-socket "$SOCK" -X POST \
		-H 'Content-Type: application/x-tar' -H 'Expect:' --data-binary @"$TMP/ctx.tar" \
		"http://d/build?version=2&networkmode=none&rm=1&t=$tag$extra" >"$OUT/$name.jsonl"
	log "$name: $(wc -l <"$OUT/$name.jsonl") lines"
}

mkdir -p "$OUT" "$SEEDS" "$TMP/ctx"
rm -f "$OUT"/*.jsonl "$SEEDS"/captured-*

cat >"$TMP/ctx/Dockerfile" <<EOF
FROM $MC_BASE_IMAGE
RUN echo to-stdout-1; echo to-stderr-1 >&2; echo to-stdout-2
RUN echo second-step >/second
EOF
build two-step mc-trace-test:two '&nocache=1'
build cached mc-trace-test:two ''

cat >"$TMP/ctx/Dockerfile" <<EOF
FROM $MC_BASE_IMAGE
RUN sh -c 'echo to-stderr >&2; echo out; exit 3'
EOF
build failing mc-trace-test:fail '&nocache=1'

grep -q '"error"' "$OUT/failing.jsonl" || { log "the failing build did not fail"; exit 1; }
! grep -q '"error"' "$OUT/two-step.jsonl" "$OUT/cached.jsonl" || { log "a build failed"; exit 1; }

# The protobuf payloads on their own: the fuzz seeds.
for f in "$OUT"/*.jsonl; do
	n=0
	b=$(basename "$f" .jsonl)
	while IFS= read -r aux; do
		n=$((n + 1))
		printf '%s' "$aux" | base64 -d >"$SEEDS/captured-$b-$n"
	done < <(grep -F '"moby.buildkit.trace"' "$f" | sed -E 's/.*"aux":"([^"]*)".*/\1/')
done

for t in two fail; do
	curl -sS --unix-socket "$SOCK" -X DELETE "http://d/images/mc-trace-test:$t" >/dev/null 2>&1 || true
done
log "wrote $OUT and $SEEDS"
