# install_check.sh — molcache installs like a package (issue 10 item 7):
# `cmake --install` into a DESTDIR lays out the binary, man page, bash
# completion and the gc service and timer; a real prefix gives units that
# systemd accepts; cpack makes a .deb with the same files whose Depends names
# the libarchive package (dlopen'ed, so dpkg-shlibdeps cannot see it).
set -euo pipefail
: "${MC_SRC:?}" "${MC_BUILD:?}"
tmp=$(mktemp -d /tmp/mc-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { pass=$((pass + 1)); echo "ok - $*"; }

# The tree every install must hold, under a prefix ($1) inside a root ($2).
check_tree() {
	local prefix=$1 root=$2 unit
	[ -x "$root$prefix/bin/molcache" ] || fail "$root$prefix/bin/molcache missing"
	"$root$prefix/bin/molcache" version | grep -qx 'molcache [0-9.]*' ||
		fail "installed binary: 'version' printed '$("$root$prefix/bin/molcache" version)'"
	cmp -s "$root$prefix/share/man/man1/molcache.1" "$MC_SRC/docs/molcache.1" ||
		fail "man page not installed to share/man/man1"
	cmp -s "$root$prefix/share/bash-completion/completions/molcache" "$MC_SRC/contrib/molcache.bash-completion" ||
		fail "bash completion not installed to share/bash-completion/completions/molcache"
	# the completion loads in a bash of its own and registers itself
	bash -c ". '$root$prefix/share/bash-completion/completions/molcache' && complete -p molcache" |
		grep -q -- '-F _molcache molcache' || fail "the installed completion does not register '_molcache'"
	unit=$root$prefix/lib/systemd/system
	cmp -s "$unit/molcache-gc.timer" "$MC_SRC/contrib/systemd/molcache-gc.timer" || fail "timer unit missing"
	[ -f "$unit/molcache-gc.service" ] || fail "service unit missing"
	# the service runs the binary this very install put in place
	grep -qx "ExecStart=$prefix/bin/molcache gc .*" "$unit/molcache-gc.service" ||
		fail "service ExecStart is '$(grep ExecStart "$unit/molcache-gc.service")', not $prefix/bin/molcache"
	! grep -q '@[A-Z_]*@' "$unit/molcache-gc.service" || fail "unsubstituted variable in the service"
}

DESTDIR=$tmp/dest cmake --install "$MC_BUILD" --prefix /usr >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "cmake --install with DESTDIR"; }
check_tree /usr "$tmp/dest"
ok "DESTDIR install: binary runs, man page, completion, units (ExecStart=/usr/bin/molcache)"
[ "$(cd "$tmp/dest" && find . -type f | sort | tr '\n' ' ')" = "./usr/bin/molcache ./usr/lib/systemd/system/molcache-gc.service ./usr/lib/systemd/system/molcache-gc.timer ./usr/share/bash-completion/completions/molcache ./usr/share/man/man1/molcache.1 " ] ||
	fail "unexpected files installed: $(cd "$tmp/dest" && find . -type f | sort | tr '\n' ' ')"
ok "nothing else installed"

# A real prefix: the service's ExecStart exists, so systemd can check the pair.
cmake --install "$MC_BUILD" --prefix "$tmp/prefix" >"$tmp/install2.log" 2>&1 ||
	{ cat "$tmp/install2.log"; fail "cmake --install --prefix"; }
check_tree "$tmp/prefix" ""
ok "prefix install: ExecStart follows the prefix"
command -v systemd-analyze >/dev/null || fail "systemd-analyze not found (apt-get install systemd)"
# Unknown keys are only warnings there: any output at all is a failure.
out=$(systemd-analyze verify --man=no "$tmp/prefix/lib/systemd/system/molcache-gc.service" \
	"$tmp/prefix/lib/systemd/system/molcache-gc.timer" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"
ok "systemd-analyze verify accepts the service and the timer"

# The .deb: CPack from this build tree.
cpack --config "$MC_BUILD/CPackConfig.cmake" -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1 ||
	{ cat "$tmp/cpack.log"; fail "cpack"; }
deb=$(ls "$tmp"/pkg/molcache_*.deb)
info=$(dpkg-deb -I "$deb")
depends=$(printf '%s\n' "$info" | sed -n 's/^ Depends: //p')
[ -n "$depends" ] || fail "no Depends in the .deb: $info"
grep -q "^MC_LIBARCHIVE_PACKAGE:STRING=." "$MC_BUILD/CMakeCache.txt" || fail "MC_LIBARCHIVE_PACKAGE not in the cache"
libarchive=$(sed -n 's/^MC_LIBARCHIVE_PACKAGE:STRING=//p' "$MC_BUILD/CMakeCache.txt")
printf '%s\n' "$depends" | tr ',' '\n' | sed 's/^ *//' | grep -qE "^$libarchive( |$)" ||
	fail "Depends lacks $libarchive: $depends"
# and that package really provides the soname the binary dlopens
soname=$(sed -n 's/^MC_LIBARCHIVE_SONAME:STRING=//p' "$MC_BUILD/CMakeCache.txt")
dpkg -L "$libarchive" | grep -q "/$soname\$" || fail "$libarchive does not ship $soname"
# the linked libraries come from dpkg-shlibdeps
for lib in libgit2 libcurl libsqlite3 libjansson libssl libc6; do
	printf '%s\n' "$depends" | grep -q "$lib" || fail "Depends lacks $lib*: $depends"
done
ok "the .deb depends on $libarchive (provides $soname) and the linked libraries: $depends"
dpkg-deb -x "$deb" "$tmp/deb"
check_tree /usr "$tmp/deb"
ok "the .deb holds the same tree under /usr"
echo "$pass passed, 0 failed"
