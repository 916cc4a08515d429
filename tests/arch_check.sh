#!/usr/bin/env bash
# arch_check.sh — keeps docs/architecture.md's shape true:
#  1. only engine/ speaks the Engine API: no "/images, "/build or
#     "/containers string in a .c file of the program outside engine/;
#  2. the include graph between rooms points one way, by rank:
#     util < store < net < git, context < engine < fleet < cache < gc < cli;
#     fleet/ and engine/ never include cache/ensure.h;
#  3. store/ and util/ know nothing of Docker, git or HTTP: none of libgit2's,
#     libcurl's, libarchive's or jansson's headers there;
#  4. every .c file of the program reaches util/mc_banned.h through its
#     includes, so strcpy, sprintf, strtok … fail to compile everywhere;
#  5. every curl_easy_setopt is checked: called only inside SETOPT (net/curl_opt.h);
#  6. no include circle between modules (a module is x.c with its x.h);
#  7. no .c file of the program is over 900 lines.
# tests/ and bench/ are left out: ctest_engine.c drives the engine's raw GET on purpose.
set -euo pipefail
SRC=${MC_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$SRC"
DIRS=(util store net git context engine fleet cache gc cli)
fail=0

# 1. Engine API paths
while IFS= read -r hit; do
	echo "arch_check: Engine API path outside engine/: $hit" >&2
	fail=1
done < <(grep -nE '"/(images|build|containers)' --include='*.c' -r "${DIRS[@]}" | grep -v '^engine/' || true)

# 2. layering: a directory may include its own headers and those of lower ranks
rank() {
	case "$1" in
	util) echo 0 ;; store) echo 1 ;; net) echo 2 ;; git | context) echo 3 ;; engine) echo 4 ;;
	fleet) echo 5 ;; cache) echo 6 ;; gc) echo 7 ;; cli) echo 8 ;; *) echo -1 ;;
	esac
}
for d in "${DIRS[@]}"; do
	for f in "$d"/*.[ch]; do
		[ -e "$f" ] || continue
		while IFS=: read -r line inc; do
			# resolve "x.h" / "../dir/x.h" against the including file's directory
			target=$(realpath -m --relative-to="$SRC" "$d/$inc")
			td=${target%%/*}
			[ "$td" = "$target" ] && td=.
			if [ "$td" = "$d" ]; then
				continue
			fi
			rs=$(rank "$d") rt=$(rank "$td")
			if [ "$rt" -lt 0 ] || [ "$rt" -ge "$rs" ]; then
				echo "arch_check: $f:$line includes \"$inc\": $d may not depend on $td" \
					"(util < store < net < git, context < engine < fleet < cache < gc < cli)" >&2
				fail=1
			fi
		done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$f" |
			sed -E 's/^([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1:\2/')
	done
done

# 3. the lower layers stay free of Docker, git and HTTP
while IFS= read -r hit; do
	echo "arch_check: store/ and util/ know nothing of Docker, git or HTTP: $hit" >&2
	fail=1
done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(git2|curl/|archive|jansson)' -r store util || true)

# 4. the banned functions are banned in every file: each .c includes, at some
# depth, util/mc_util.h (whose last line includes mc_banned.h)
reaches_banned() { # FILE [SEEN…]: 0 when FILE includes util/mc_banned.h, directly or through program headers
	local f=$1 inc target
	shift
	[ "$f" = util/mc_banned.h ] && return 0
	case " $* " in *" $f "*) return 1 ;; esac
	while IFS= read -r inc; do
		target=$(realpath -m --relative-to="$SRC" "$(dirname "$f")/$inc")
		[ -f "$target" ] && reaches_banned "$target" "$f" "$@" && return 0
	done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/p' "$f")
	return 1
}
for d in "${DIRS[@]}"; do
	for f in "$d"/*.c; do
		[ -e "$f" ] || continue
		reaches_banned "$f" ||
			{ echo "arch_check: $f never includes util/mc_banned.h (through mc_util.h)" >&2; fail=1; }
	done
done

# 5. libcurl options only through the one checking helper
while IFS= read -r hit; do
	echo "arch_check: curl_easy_setopt outside SETOPT (its result must be checked): $hit" >&2
	fail=1
done < <(grep -nE '\bcurl_easy_setopt[[:space:]]*\(' --include='*.c' --include='*.h' -r "${DIRS[@]}" |
	grep -vE '^net/curl_opt\.h:[0-9]+:#define SETOPT\(' || true)

# 2b. the registry and engine clients never reach into ensure
while IFS= read -r hit; do
	echo "arch_check: fleet/ and engine/ may not include cache/ensure.h: $hit" >&2
	fail=1
done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]*/)?ensure\.h"' -r fleet engine || true)

# 6. no include circle between modules: edges "a b" (module a includes b's
# header), modules named dir/base; tsort names a loop when there is one
edges=$(for d in "${DIRS[@]}"; do
	for f in "$d"/*.[ch]; do
		[ -e "$f" ] || continue
		from=${f%.[ch]}
		sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/p' "$f" | while IFS= read -r inc; do
			target=$(realpath -m --relative-to="$SRC" "$d/$inc")
			to=${target%.h}
			[ "$to" = "$from" ] || echo "$from $to"
		done
	done
done)
if ! loops=$(printf '%s\n' "$edges" | tsort 2>&1 >/dev/null) || [ -n "$loops" ]; then
	echo "arch_check: include circle between modules:" >&2
	printf '%s\n' "$loops" | sed -n 's/^tsort: /  /p' >&2
	fail=1
fi

# 7. files a reader can hold in their head
for d in "${DIRS[@]}"; do
	for f in "$d"/*.c; do
		[ -e "$f" ] || continue
		n=$(wc -l <"$f")
		if [ "$n" -gt 900 ]; then
			echo "arch_check: $f has $n lines (over 900): split it along its seams" >&2
			fail=1
		fi
	done
done

if [ "$fail" = 0 ]; then
	echo "arch_check: ok"
fi
exit "$fail"
