# it_build_arg_limits.sh — issue 15 item 8 (build args): a value over the limit
# is refused before any I/O, with exit 2 and a message that names the argument
# and the limit but never quotes the value; nothing is recorded, so no failure
# backoff follows. A 120 KB value on the command line and a 900 KB one in the
# config file (argv cannot carry 1 MB; the file is capped at 1 MiB) failed at the engine.
. "$(dirname "$0")/lib.sh"
it_setup

src=$(simple_template codex)
mkrepo codex "$src"
mc ensure codex --network none -q >/dev/null 2>"$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "first ensure"; }
rows0=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT count(*) FROM entries")
builds0=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT count(*) FROM builds")

check_refused() { # WHAT ERRFILE RC
	[ "$3" = 2 ] || { head -c 600 "$2"; it_fail "$1: exit $3, want 2"; }
	grep -q "^molcache: .*build arg 'BIG': value of [0-9]* bytes, over the limit of 32768" "$2" ||
		{ head -c 600 "$2"; it_fail "$1: the message names no limit"; }
	! grep -q "aaaaaaaa" "$2" || it_fail "$1: the message quotes the value"
	grep -q "^hint: " "$2" || it_fail "$1: no hint"
}
val=$(head -c 120000 /dev/zero | tr '\0' a)
rc=0
mc ensure codex --network none --build-arg "BIG=$val" >/dev/null 2>"$IT_DIR/big.err" || rc=$?
check_refused "a 120 KB --build-arg" "$IT_DIR/big.err" $rc
rc=0
mc explain codex --build-arg "BIG=$val" >/dev/null 2>"$IT_DIR/bigx.err" || rc=$?
check_refused "explain with a 120 KB --build-arg" "$IT_DIR/bigx.err" $rc

mkdir -p "$XDG_CONFIG_HOME/molcache"
{ printf 'build_arg = BIG='; head -c 900000 /dev/zero | tr '\0' a; echo; } >"$XDG_CONFIG_HOME/molcache/config"
rc=0
mc ensure codex --network none >/dev/null 2>"$IT_DIR/cfg.err" || rc=$?
check_refused "a 900 KB build_arg in the config" "$IT_DIR/cfg.err" $rc
grep -q "line 1" "$IT_DIR/cfg.err" || it_fail "the config error names no line"
rm -f "$XDG_CONFIG_HOME/molcache/config"

# many arguments under the per-value limit, over the total
args=()
for i in $(seq 1 5); do args+=(--build-arg "A$i=$(head -c 20000 /dev/zero | tr '\0' b)"); done
rc=0
mc ensure codex --network none "${args[@]}" >/dev/null 2>"$IT_DIR/tot.err" || rc=$?
[ $rc = 2 ] && grep -q "^molcache: build args: [0-9]* bytes together, over the limit of 65536" "$IT_DIR/tot.err" ||
	{ head -c 600 "$IT_DIR/tot.err"; it_fail "build args over the total: exit $rc"; }

[ "$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT count(*) FROM entries")" = "$rows0" ] || it_fail "a refused build arg left a row"
[ "$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT count(*) FROM builds")" = "$builds0" ] || it_fail "a refused build arg was recorded as an attempt"
t=$(mc ensure codex --network none -q --build-arg "OK=$(head -c 30000 /dev/zero | tr '\0' c)" 2>"$IT_DIR/ok.err") ||
	{ cat "$IT_DIR/ok.err"; it_fail "a 30 KB value under the limit"; }
image_exists "$t" || it_fail "$t missing"
ok "build args over 32 KiB a value or 64 KiB together: exit 2 naming the limit, value never shown, nothing recorded; 30 KB builds"
