# it_errors.sh — refusals and failures: bad runtime names before any I/O, no
# Dockerfile, remote gone (and --offline), engine gone; each with its exit code.
. "$(dirname "$0")/lib.sh"
it_setup

expect() { # expect CODE PATTERN -- ARGS...: exit code and a one-line error matching PATTERN
	local want=$1 pat=$2; shift 3
	set +e; "$@" >"$IT_DIR/out" 2>"$IT_DIR/err"; local rc=$?; set -e
	[ $rc = "$want" ] || { cat "$IT_DIR/err"; it_fail "$*: exit $rc, want $want"; }
	grep -q "^molcache: .*$pat" "$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "$*: no error matching '$pat'"; }
	[ ! -s "$IT_DIR/out" ] || it_fail "$*: printed on stdout: $(cat "$IT_DIR/out")"
}

for bad in "../etc" "a/b" "has space" $'ctl\x01' "" "UPPER" "-flag" ".hidden"; do
	expect 2 "runtime" -- mc ensure -- "$bad"
done
[ ! -e "$MOLCACHE_HOME" ] || it_fail "a refused runtime name created the cache root"
expect 2 "not in the allowed" -- mc ensure not-listed
ok "bad runtime names are refused with exit 2 before any I/O"

expect 2 "build-arg" -- mc ensure codex --build-arg novalue
expect 2 "option" -- mc ensure codex --no-such-flag
for bad in a/b/c/d linux "" /amd64 "linux/AMD64" "linux/amd 64"; do
	expect 2 "platform" -- mc ensure codex --platform "$bad"
done
for bad in ../x /etc/passwd a/../../b "" sub/..; do
	expect 2 "dockerfile" -- mc ensure codex --dockerfile "$bad"
done
MOLECULE_IMAGE_PLATFORM=amd64 expect 2 "MOLECULE_IMAGE_PLATFORM.*'amd64'" -- mc ensure codex
grep -q "^hint: " "$IT_DIR/err" || it_fail "no hint for a bad environment variable"
[ ! -e "$MOLCACHE_HOME" ] || it_fail "a refused flag created the cache root"
ok "bad flags (build arg, platform, dockerfile path) exit 2 before any I/O"

# no Dockerfile
d=$IT_DIR/nodf; mkdir -p "$d"; echo hi > "$d/README"
mkrepo crewai "$d"
expect 5 "no 'Dockerfile'" -- mc ensure crewai --network none
grep -q "^hint: " "$IT_DIR/err" || it_fail "no hint for a missing Dockerfile"
ok "a tree without a Dockerfile: exit 5, $(grep -v ' ms$' "$IT_DIR/err" | head -1)"

# bad template content is the template's failure (5), not a usage error (2)
d=$IT_DIR/badfrom; mkdir -p "$d"; printf 'FROM\n' > "$d/Dockerfile"
mkrepo gemini-cli "$d"
expect 5 "template .* at [0-9a-f]\\{12\\}" -- mc ensure gemini-cli --network none
d=$IT_DIR/badignore; mkdir -p "$d"; printf 'FROM %s\n' "$MC_BASE_IMAGE" > "$d/Dockerfile"; printf '[\n' > "$d/.dockerignore"
mkrepo langgraph "$d"
expect 5 "template .* at [0-9a-f]\\{12\\}" -- mc ensure langgraph --network none
ok "a bare FROM line and a bad .dockerignore pattern: exit 5 naming the template and commit"

# a failing RUN step
d=$IT_DIR/fail; mkdir -p "$d"
printf 'FROM %s\nRUN echo about to fail && exit 3\n' "$MC_BASE_IMAGE" > "$d/Dockerfile"
mkrepo hermes "$d"
expect 5 "" -- mc ensure hermes --network none
grep -q "build log" "$IT_DIR/err" || it_fail "no build log path in the error"
ok "a failing RUN step: exit 5, $(grep -v ' ms$' "$IT_DIR/err" | head -1)"

# remote gone, then --offline
src=$(simple_template autogen); mkrepo autogen "$src"
tag=$(mc ensure autogen --network none 2>/dev/null)
expect 3 "ref 'no-such-branch' not found" -- mc ensure autogen --ref no-such-branch
mv "$GITROOT/workspace-template-autogen" "$GITROOT/gone.git"
expect 3 "workspace-template-autogen" -- mc ensure autogen --network none
set +e; tag2=$(mc ensure autogen --offline 2>"$IT_DIR/err"); rc=$?; set -e
[ $rc = 0 ] && [ "$tag2" = "$tag" ] || { cat "$IT_DIR/err"; it_fail "--offline: rc=$rc tag=$tag2"; }
grep -q "warning: offline" "$IT_DIR/err" || it_fail "--offline without a warning"
expect 8 "nothing cached" -- mc ensure deepagents --offline
ok "missing ref and remote gone: exit 3; --offline serves $tag with a warning; nothing cached: exit 8"

# no engine at DOCKER_HOST
DOCKER_HOST=unix://$IT_DIR/no.sock expect 4 "docker engine" -- mc ensure autogen --offline
grep -q "^hint: " "$IT_DIR/err" || it_fail "no hint when the engine is missing"
ok "engine socket missing: exit 4, $(head -1 "$IT_DIR/err")"

# option errors name the option that was wrong, not the command
expect 2 "unknown option '-r'" -- mc ensure -rf claude-code
expect 2 "unknown option '--netwrk'" -- mc ensure --netwrk none codex
expect 2 "option '--network' needs a value" -- mc ensure codex --network
expect 2 "option '-n' needs a value" -- mc show codex -n
expect 2 "unknown option '-x'" -- mc gc -x
ok "option errors name the option: -r of -rf, --netwrk, a missing value"
