# it_parity.sh — the same template tree, built by molcache and by docker's own
# pipeline (Debian's docker CLI, /usr/bin/docker from docker.io, BuildKit and
# classic), gives the same files in the image: paths, types, modes, owners,
# sizes, symlink targets and content hashes. Symlinks (relative, dangling, to a
# directory), an executable, an empty file, a name with spaces, a path over 100
# bytes, .dockerignore patterns with an exception, and a submodule.
. "$(dirname "$0")/lib.sh"
it_setup
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || it_fail "$DOCKER missing: scripts/deps.sh installs docker.io, which ships it"

src=$IT_DIR/src-parity; mkdir -p "$src/bin" "$src/build" "$src/deep"
cat >"$src/Dockerfile" <<DF
FROM $MC_BASE_IMAGE
COPY . /ctx
RUN cd /ctx && find . | sort | while read -r f; do \\
      if [ -L "\$f" ]; then l=\$(readlink "\$f"); s=-; h=-; \\
      elif [ -d "\$f" ]; then l=-; s=-; h=-; \\
      else l=-; s=\$(stat -c %s "\$f"); h=\$(sha256sum < "\$f" | cut -c1-16); fi; \\
      echo "\$f|\$(stat -c '%F|%a|%u:%g' "\$f")|\$s|\$l|\$h"; \\
    done > /manifest
DF
printf '*.log\n!keep.log\nbuild/\n.git\n' >"$src/.dockerignore"
echo alpha >"$src/a.txt"
printf '#!/bin/sh\necho run\n' >"$src/bin/run.sh"; chmod 755 "$src/bin/run.sh"
: >"$src/empty.txt"
echo spaced >"$src/space name.txt"
long=deep/$(printf 'd%.0s' $(seq 60))/$(printf 'f%.0s' $(seq 60)).txt
mkdir -p "$(dirname "$src/$long")"; echo long >"$src/$long"
ln -s a.txt "$src/link-rel"; ln -s nowhere "$src/link-dangling"; ln -s deep "$src/dirlink"
echo x >"$src/x.log"; echo keep >"$src/keep.log"; echo obj >"$src/build/out.o"
mkrepo codex "$src"
w=$IT_DIR/work/codex
git -C "$w" update-index --add --cacheinfo 160000,0123456789abcdef0123456789abcdef01234567,vendor/mod
git -C "$w" commit -qm "a submodule" && git -C "$w" push -q origin main

# molcache, under a tight umask
tag=$( (umask 077 && "$MOLCACHE" ensure codex --network none) 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "molcache ensure"; }
manifest_of "$tag" >"$IT_DIR/m.molcache"

# docker, from a plain (non-recursive) clone under the usual umask
(umask 022 && git clone -q "$GITROOT/workspace-template-codex" "$IT_DIR/clone")
for bk in 1 0; do
	t=mc-parity/docker-bk$bk:1
	DOCKER_BUILDKIT=$bk "$DOCKER" build -q --network none -t "$t" "$IT_DIR/clone" >"$IT_DIR/docker.out" 2>&1 ||
		{ cat "$IT_DIR/docker.out"; it_fail "docker build (DOCKER_BUILDKIT=$bk)"; }
	manifest_of "$t" >"$IT_DIR/m.docker$bk"
	engine_req DELETE "/images/$(urlenc "$t")?force=1" >/dev/null
done

[ "$(wc -l <"$IT_DIR/m.molcache")" -gt 10 ] || it_fail "manifest too short: $(cat "$IT_DIR/m.molcache")"
grep -q '^./vendor/mod|directory|755|' "$IT_DIR/m.molcache" || it_fail "the submodule is not an empty directory"
grep -q '^./link-dangling|symbolic link|777|0:0|-|nowhere|' "$IT_DIR/m.molcache" || it_fail "the dangling link is wrong"
! grep -q -e '^./x.log' -e '^./build' -e '^./.git' "$IT_DIR/m.molcache" || it_fail ".dockerignore not applied"
for bk in 1 0; do
	diff -u "$IT_DIR/m.docker$bk" "$IT_DIR/m.molcache" >"$IT_DIR/diff$bk" ||
		{ cat "$IT_DIR/diff$bk"; it_fail "molcache's image differs from docker's (DOCKER_BUILDKIT=$bk)"; }
done
ok "molcache (umask 077) and docker build (BuildKit and classic, umask 022) put the same $(wc -l <"$IT_DIR/m.molcache") entries in the image: paths, types, modes, owners, sizes, link targets, hashes"
