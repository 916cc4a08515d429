# it_config_file.sh — issue 15 item 10, config files as editors write them and
# hints that work when typed: a UTF-8 byte order mark is skipped, a " # comment"
# after a value is not part of it, and the --offline hint's ls command runs.
. "$(dirname "$0")/lib.sh"
it_setup

src=$(simple_template codex)
mkrepo codex "$src"
mc ensure codex --network none -q >/dev/null 2>"$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "first ensure"; }

mkdir -p "$XDG_CONFIG_HOME/molcache"
printf '\357\273\277ref = main\n' >"$XDG_CONFIG_HOME/molcache/config"
mc ensure codex --network none -q >/dev/null 2>"$IT_DIR/bom.err" || { cat "$IT_DIR/bom.err"; it_fail "a config with a UTF-8 BOM"; }
printf 'build_arg = A=1 # a comment\n' >"$XDG_CONFIG_HOME/molcache/config"
mc explain codex --json >"$IT_DIR/ex.json" 2>"$IT_DIR/ex.err" || { cat "$IT_DIR/ex.err"; it_fail "explain with an inline comment"; }
python3 -c 'import json,sys; s=json.dumps(json.load(open(sys.argv[1]))); assert "comment" not in s and "A" in s, s[:300]' "$IT_DIR/ex.json" ||
	it_fail "build_arg = A=1 # comment kept the comment"
rm -f "$XDG_CONFIG_HOME/molcache/config"
ok "config: a UTF-8 BOM is skipped, a ' # comment' after a value is dropped"

rc=0
mc ensure codex --offline --ref nope >/dev/null 2>"$IT_DIR/off.err" || rc=$?
[ $rc = 8 ] || it_fail "offline miss: exit $rc"
cmd=$(sed -n "s/^hint: .*'\(molcache ls[^']*\)'.*/\1/p" "$IT_DIR/off.err")
[ -n "$cmd" ] || { cat "$IT_DIR/off.err"; it_fail "the offline hint names no ls command"; }
rc=0
# shellcheck disable=SC2086
mc ${cmd#molcache } >"$IT_DIR/ls.out" 2>&1 || rc=$?
[ $rc = 0 ] || { cat "$IT_DIR/ls.out"; it_fail "the hint's '$cmd' exits $rc"; }
grep -q codex "$IT_DIR/ls.out" || it_fail "the hint's '$cmd' does not list codex"
ok "the --offline hint's '$cmd' works"
