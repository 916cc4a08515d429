# it_build_arg_secrets.sh — issue 16 item 1: a build-arg value may be a secret.
# Its value appears in 0 places under the cache root (index, WAL, logs), in the
# image's labels, in the views (show, ls, explain, status) or in the registry:
# the key hashes each value, and the index, labels and views keep the name with
# the value's sha256. explain says "value of NPM_TOKEN changed"; ensure warns
# about a name that looks like a secret (BuildKit's SecretsUsedInArgOrEnv). An
# upgrade rebuilds nothing: a row keyed and stored the old way (values in the
# key and the index) is rehashed in place and still served.
. "$(dirname "$0")/lib.sh"
it_setup

secret="s3cr3t-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
src=$IT_DIR/src-codex
mkdir -p "$src"
# no RUN after the ARG: the engine records the args a RUN sees in the image's
# history (docs/key-format.md says so); what molcache itself writes is tested here
printf 'FROM %s\nARG NPM_TOKEN\nARG PLAIN\nCOPY Dockerfile /Dockerfile.copy\n' "$MC_BASE_IMAGE" >"$src/Dockerfile"
mkrepo codex "$src"
args=(--build-arg "NPM_TOKEN=$secret" --build-arg PLAIN=hello)
reg=$MC_REGISTRY/sec

tag=$(mc ensure codex --network none "${args[@]}" --registry "$reg" -q 2>"$IT_DIR/err") ||
	{ cat "$IT_DIR/err"; it_fail "ensure"; }
[ "$(counter pushes)" = 1 ] || it_fail "the image was not pushed (pushes $(counter pushes))"
grep -q "^molcache: warning: build arg NPM_TOKEN looks like a secret" "$IT_DIR/err" ||
	{ cat "$IT_DIR/err"; it_fail "no warning for NPM_TOKEN"; }
! grep -q "build arg PLAIN" "$IT_DIR/err" || it_fail "PLAIN was taken for a secret"
ok "ensure built and pushed $tag, warning about NPM_TOKEN only"

# nowhere: cache root, labels, views, registry
found=$(grep -r -a -l -F -- "$secret" "$MOLCACHE_HOME" || true)
[ -z "$found" ] || it_fail "the value is under the cache root in: $found"
engine_get "/images/$tag/json" >"$IT_DIR/inspect.json"
! grep -q -F -- "$secret" "$IT_DIR/inspect.json" || it_fail "the value is in the image's config (labels)"
grep -q 'NPM_TOKEN=sha256:' "$IT_DIR/inspect.json" || it_fail "the label does not name NPM_TOKEN with its hash"
mc show "$tag" --json >"$IT_DIR/v1" && mc ls --json >"$IT_DIR/v2" && mc status --json >"$IT_DIR/v3" &&
	mc show "$tag" >"$IT_DIR/v4" && mc ls >"$IT_DIR/v5" || it_fail "views"
mc explain codex "${args[@]}" --json >"$IT_DIR/v6" 2>&1 || true
mc explain codex "${args[@]}" >"$IT_DIR/v7" 2>&1 || true
for v in v1 v2 v3 v4 v5 v6 v7; do
	! grep -q -F -- "$secret" "$IT_DIR/$v" || it_fail "the value is in a view ($v): $(grep -F -- "$secret" "$IT_DIR/$v" | head -2)"
done
grep -q 'NPM_TOKEN' "$IT_DIR/v1" || it_fail "show does not name the build arg"
found=$(grep -r -a -l -F -- "$secret" "$MC_ENGINE_DIR/registry" || true)
[ -z "$found" ] || it_fail "the value is in the registry: $found"
ok "the value is in 0 places: cache root, labels, show/ls/status/explain, registry"

# explain names the change, never the values
rc=0
mc explain codex --build-arg NPM_TOKEN=another --build-arg PLAIN=hello >"$IT_DIR/ex" 2>&1 || rc=$?
grep -q "value of NPM_TOKEN changed" "$IT_DIR/ex" || { cat "$IT_DIR/ex"; it_fail "explain does not say the value changed"; }
! grep -q -e another -e "$secret" "$IT_DIR/ex" || it_fail "explain shows a value"
ok "explain: 'value of NPM_TOKEN changed'"

# the same args hit
t2=$(mc ensure codex --network none "${args[@]}" -q 2>/dev/null) && [ "$t2" = "$tag" ] || it_fail "no hit for the same args"
ok "the same args hit ($tag)"

# ---- an index from before the values were hashed --------------------------------------------
db=$MOLCACHE_HOME/index.db
IFS='|' read -r key rt prefix head dfh plat <<<"$(sqlite3 "$db" \
	"SELECT key, runtime, repo_prefix, head_sha, dockerfile_hash, platform FROM entries WHERE image_tag = '$tag'")"
# the key of that time, from docs/key-format.md (values in the key)
legacy=$(python3 - "$rt" "$prefix" "$head" "$dfh" "$plat" "NPM_TOKEN=$secret" "PLAIN=hello" <<'PY'
import hashlib, struct, sys
f = lambda s: struct.pack(">I", len(s.encode())) + s.encode()
rt, prefix, head, dfh, plat, *args = sys.argv[1:]
args = sorted(args)
enc = b"molcache-key" + f("1") + f(rt) + f(prefix) + f(head) + f(dfh) + f(plat) + f(str(len(args)))
print(hashlib.sha256(enc + b"".join(f(a) for a in args)).hexdigest())
PY
)
[ "$legacy" != "$key" ] || it_fail "the legacy key equals the new one"
sqlite3 "$db" "UPDATE entries SET key = '$legacy', build_args = 'NPM_TOKEN=$secret' || char(10) || 'PLAIN=hello'
	WHERE key = '$key'; UPDATE latest SET key = '$legacy'; PRAGMA user_version = 5;"
builds=$(counter builds)
t3=$(mc ensure codex --network none "${args[@]}" -q 2>"$IT_DIR/up.err") || { cat "$IT_DIR/up.err"; it_fail "ensure after the upgrade"; }
[ "$t3" = "$tag" ] || it_fail "after the upgrade: $t3, want the old row's $tag"
[ "$(counter builds)" = "$builds" ] || it_fail "the upgrade rebuilt"
[ "$(sqlite3 "$db" 'PRAGMA user_version')" -ge 6 ] || it_fail "the index was not migrated"
stored=$(sqlite3 "$db" "SELECT build_args FROM entries WHERE key = '$legacy'")
case $stored in NPM_TOKEN=sha256:*) ;; *) it_fail "the old row keeps '$stored'" ;; esac
found=$(grep -r -a -l -F -- "$secret" "$MOLCACHE_HOME" || true)
[ -z "$found" ] || it_fail "after the upgrade the value is still in: $found"
ok "upgrade: the old row is rehashed in place and served ($t3), nothing rebuilt, the value gone from the cache root"
