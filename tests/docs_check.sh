# docs_check.sh — the man page keeps step with the binary: every command of
# `molcache --help` has a section in docs/molcache.1, and every long option a
# command's --help lists is documented there; every exit code in cli/cli.h too.
set -euo pipefail
: "${MOLCACHE:?}" "${MC_SRC:?}"
man=$MC_SRC/docs/molcache.1
fail=0
cmds=$("$MOLCACHE" --help | awk '/^commands:/{on=1; next} on && /^  [a-z]/{print $1}')
[ -n "$cmds" ] || { echo "FAIL: no commands in molcache --help"; exit 1; }
n=0
for c in $cmds; do
	grep -q "^\.SS $c\b" "$man" || { echo "FAIL: no '.SS $c' section in docs/molcache.1"; fail=1; }
	for opt in $("$MOLCACHE" "$c" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		n=$((n + 1))
		grep -qF -- "$(printf '%s' "$opt" | sed 's/-/\\-/g')" "$man" ||
			{ echo "FAIL: '$c $opt' is not in docs/molcache.1"; fail=1; }
	done
done
for code in $(grep -oE 'MC_EXIT_[A-Z]+ = [0-9]+' "$MC_SRC/cli/cli.h" | awk '{print $3}'); do
	grep -q "^\.B $code$" "$man" || { echo "FAIL: exit code $code not in EXIT STATUS"; fail=1; }
done
echo "checked $(echo "$cmds" | wc -w) commands, $n options"
[ $fail = 0 ] && echo "1 passed, 0 failed" || { echo "0 passed, 1 failed"; exit 1; }
