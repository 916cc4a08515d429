# it_template_messages.sh — issue 15 item 10: messages that say what to do.
# A sha prefix in --ref is named as one; a Dockerfile over molcache's read
# limit gets a hint about its size, not about symbolic links; explain's nearest
# entry carries its origin; the man page and docs/json.md say what the code does.
. "$(dirname "$0")/lib.sh"
it_setup

src=$(simple_template codex)
mkrepo codex "$src"
mc ensure codex --network none -q >/dev/null 2>"$IT_DIR/err" || { cat "$IT_DIR/err"; it_fail "first ensure"; }

short=$(git -C "$IT_DIR/work/codex" rev-parse --short=7 HEAD)
rc=0
mc ensure codex --network none --ref "$short" >/dev/null 2>"$IT_DIR/ref.err" || rc=$?
[ $rc = 3 ] || { cat "$IT_DIR/ref.err"; it_fail "--ref $short: exit $rc, want 3"; }
grep -q "^hint: .*full 40-digit commit sha" "$IT_DIR/ref.err" || { cat "$IT_DIR/ref.err"; it_fail "a sha prefix: no word that a full sha is needed"; }
rc=0
mc ensure codex --network none --ref no-such-branch >/dev/null 2>"$IT_DIR/ref2.err" || rc=$?
! grep -q "abbreviated" "$IT_DIR/ref2.err" || it_fail "a branch name was taken for an abbreviated sha"
ok "--ref $short: exit 3 with a hint that a full sha is needed"

big=$IT_DIR/src-bigdf
mkdir -p "$big"
{ printf 'FROM %s\n' "$MC_BASE_IMAGE"; head -c 5000000 /dev/zero | tr '\0' '#' | fold -w 100; echo; } >"$big/Dockerfile"
mkrepo hermes "$big"
rc=0
mc ensure hermes --network none >/dev/null 2>"$IT_DIR/bigdf.err" || rc=$?
[ $rc = 5 ] || { cat "$IT_DIR/bigdf.err"; it_fail "5 MB Dockerfile: exit $rc, want 5"; }
grep -q "^molcache: .*over the limit" "$IT_DIR/bigdf.err" || { cat "$IT_DIR/bigdf.err"; it_fail "5 MB Dockerfile: no size in the message"; }
! grep -qi "symbolic link" "$IT_DIR/bigdf.err" || { cat "$IT_DIR/bigdf.err"; it_fail "5 MB Dockerfile: the hint talks about symbolic links"; }
grep -q "^hint: .*smaller" "$IT_DIR/bigdf.err" || { cat "$IT_DIR/bigdf.err"; it_fail "5 MB Dockerfile: no hint"; }
ok "a 5 MB Dockerfile: exit 5, '$(grep '^hint:' "$IT_DIR/bigdf.err")'"

commit codex two.txt two
mc explain codex --json >"$IT_DIR/ex.json" 2>"$IT_DIR/ex.err" || { cat "$IT_DIR/ex.err"; it_fail "explain"; }
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["nearest"]["entry"]["origin"] == "built", d["nearest"]' "$IT_DIR/ex.json" ||
	it_fail "explain's nearest.entry has no origin"
ok "explain's nearest.entry.origin is 'built'"

man=$MC_SRC/docs/molcache.1
! grep -q "never through a symbolic link" "$man" || it_fail "the man page says a symlinked Dockerfile is refused"
json=$MC_SRC/docs/json.md
grep -q '`queued`' "$json" || it_fail "docs/json.md lacks step state queued"
grep -q '`libarchive`' "$json" && grep -q '`CA loading`' "$json" || it_fail "docs/json.md lacks the libarchive or CA loading checks"
grep -q '`nearest.entry`.*`origin`' "$json" || it_fail "docs/json.md lacks explain's nearest.entry.origin"
ok "man page and docs/json.md match the code"
