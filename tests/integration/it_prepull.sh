# it_prepull.sh — a multi-stage Dockerfile with ARG BASE / FROM ${BASE} makes
# molcache pull the right base image from a registry (Debian's docker-registry
# on 127.0.0.1) before a BuildKit build, which could not pull it itself.
. "$(dirname "$0")/lib.sh"
it_setup

remote_base="$MC_REGISTRY/mc/busybox:1.0"
engine_req DELETE "/images/$(urlenc "$remote_base")?force=1" >/dev/null || true
image_exists "$(urlenc "$remote_base")" && it_fail "base image already local"
d=$IT_DIR/src; mkdir -p "$d"
cat > "$d/Dockerfile" <<DF
# syntax is deliberately not set: BuildKit without a session cannot fetch a frontend
ARG BASE=$MC_REGISTRY/mc/busybox:0.0
ARG UNUSED=1
FROM --platform=\$BUILDPLATFORM \${BASE} AS build
RUN echo stage1 > /s1
FROM build AS second
RUN cat /s1 > /s2
FROM scratch
COPY --from=second /s2 /s2
DF
mkrepo langgraph "$d"
# the default tag 0.0 does not exist: the build arg picks 1.0
tag=$(mc ensure langgraph --build-arg "BASE=$remote_base" --network none 2>"$IT_DIR/err") ||
	{ cat "$IT_DIR/err"; it_fail "ensure with a registry base image"; }
grep -q "pulling $remote_base" "$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "no pre-pull of $remote_base"; }
image_exists "$(urlenc "$remote_base")" || it_fail "base image not pulled"
image_exists "$tag" || it_fail "image missing"
ok "FROM \${BASE} pre-pulled $remote_base, multi-stage build $tag"

# a base image that exists nowhere: exit 5 naming it
cat > "$d/Dockerfile" <<DF
FROM $MC_REGISTRY/mc/nothing:1
DF
mkrepo openclaw "$d"
set +e; mc ensure openclaw --network none >/dev/null 2>"$IT_DIR/err2"; rc=$?; set -e
[ $rc = 5 ] || { cat "$IT_DIR/err2"; it_fail "missing base: exit $rc, want 5"; }
grep -q "mc/nothing:1" "$IT_DIR/err2" || it_fail "missing base not named"
line=$(grep '^molcache: base image' "$IT_DIR/err2" | head -1)
[ "$(grep -o "pull of" <<<"$line" | wc -l)" = 1 ] || it_fail "the pull is named more than once: $line"
[ "$(grep -o "base image" <<<"$line" | wc -l)" = 1 ] || it_fail "the prefix repeats: $line"
grep -q "^hint: is the registry reachable? .*--build-arg BASE=" "$IT_DIR/err2" || { cat "$IT_DIR/err2"; it_fail "no hint"; }
ok "an unavailable base image fails with exit 5: $(grep -v ' ms$' "$IT_DIR/err2" | head -1)"
