# it_ignore_parity.sh — which files reach the image, molcache against docker's
# own pipeline (Debian's docker CLI, /usr/bin/docker, BuildKit and classic), for
# issue 16's parity items:
#  - 8: a '!' exception under an excluded directory re-includes only what
#    docker's walker reaches (the exception's text begins with "<dir>/");
#  - 9: a tree with only a lowercase 'dockerfile' builds, as docker builds it;
#  - 10: BuildKit's "<Dockerfile>.dockerignore" wins over .dockerignore, and
#    is part of the key: two Dockerfile paths with equal Dockerfiles but their
#    own ignore files give two images.
. "$(dirname "$0")/lib.sh"
it_setup
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || it_fail "$DOCKER missing: scripts/deps.sh installs docker.io, which ships it"

# write_dockerfile DIR [NAME]: a Dockerfile that lists the context's files into /manifest
write_dockerfile() {
	mkdir -p "$(dirname "$1/${2:-Dockerfile}")"
	printf 'FROM %s\nCOPY . /ctx\nRUN cd /ctx && find . | sort > /manifest\n' "$MC_BASE_IMAGE" >"$1/${2:-Dockerfile}"
}

# parity RUNTIME "BUILDKITS" [--dockerfile PATH]: molcache's image of the
# template and docker's (DOCKER_BUILDKIT=each of BUILDKITS, from a clone) list
# the same files; molcache's list is left in $IT_DIR/m.RUNTIME
parity() {
	local rt=$1 bks=$2 tag bk t
	shift 2
	tag=$(mc ensure "$rt" --network none "$@" 2>"$IT_DIR/err.$rt") || { cat "$IT_DIR/err.$rt"; it_fail "$rt: molcache ensure"; }
	manifest_of "$tag" >"$IT_DIR/m.$rt"
	rm -rf "$IT_DIR/clone.$rt" && git clone -q "$GITROOT/workspace-template-$rt" "$IT_DIR/clone.$rt"
	rm -rf "$IT_DIR/clone.$rt/.git" # molcache sends the tree of the commit, never .git
	for bk in $bks; do
		t=mc-ignore-parity/$rt-bk$bk:1
		(cd "$IT_DIR/clone.$rt" && DOCKER_BUILDKIT=$bk "$DOCKER" build -q --network none -t "$t" \
			${2:+-f "$2"} . >"$IT_DIR/docker.out" 2>&1) ||
			{ cat "$IT_DIR/docker.out"; it_fail "$rt: docker build (DOCKER_BUILDKIT=$bk)"; }
		manifest_of "$t" >"$IT_DIR/m.$rt.docker$bk"
		engine_req DELETE "/images/$(urlenc "$t")?force=1" >/dev/null
		diff -u "$IT_DIR/m.$rt.docker$bk" "$IT_DIR/m.$rt" ||
			it_fail "$rt: molcache's files differ from docker's (DOCKER_BUILDKIT=$bk)"
	done
}
has() { grep -qx "./$2" "$IT_DIR/m.$1" || { cat "$IT_DIR/m.$1"; it_fail "$1: ./$2 missing"; }; }
hasnt() { ! grep -qx "./$2" "$IT_DIR/m.$1" || { cat "$IT_DIR/m.$1"; it_fail "$1: ./$2 sent, docker drops it"; }; }

# ---- item 8: re-inclusion under an excluded directory ----------------------------------------
s=$IT_DIR/src-star; write_dockerfile "$s"; mkdir -p "$s/src/lib"
echo main >"$s/src/main.c"; echo util >"$s/src/lib/util.c"
printf '*\n!src/**/*.c\n' >"$s/.dockerignore"
mkrepo codex "$s"; parity codex "1 0"
has codex src/main.c; hasnt codex src/lib/util.c
ok "'*' + '!src/**/*.c': src/main.c only, as docker (BuildKit and classic)"

s=$IT_DIR/src-nm; write_dockerfile "$s"; mkdir -p "$s/node_modules/pkg" "$s/a/node_modules/pkg"
for d in node_modules/pkg a/node_modules/pkg; do echo i >"$s/$d/index.js"; echo o >"$s/$d/other.js"; done
echo k >"$s/keep.txt"
printf '**/node_modules\n!**/node_modules/pkg/index.js\n' >"$s/.dockerignore"
mkrepo hermes "$s"; parity hermes "1 0"
hasnt hermes node_modules/pkg/index.js; hasnt hermes a/node_modules/pkg/index.js; has hermes a
ok "'**/node_modules' + '!**/node_modules/pkg/index.js': no node_modules at all, as docker"

s=$IT_DIR/src-dir; write_dockerfile "$s"; mkdir -p "$s/dir/sub"
echo 1 >"$s/dir/a.txt"; echo 2 >"$s/dir/b.go"; echo 3 >"$s/dir/sub/c.go"; echo 4 >"$s/dir/sub/d.txt"
printf 'dir\n!dir/*.txt\n!dir/**/*.go\n' >"$s/.dockerignore"
mkrepo crewai "$s"; parity crewai "1 0"
has crewai dir/a.txt; has crewai dir/b.go; hasnt crewai dir/sub/c.go
ok "'dir' + '!dir/*.txt' + '!dir/**/*.go': dir/a.txt and dir/b.go, not dir/sub/c.go, as docker"

# ---- item 9: only a lowercase dockerfile ---------------------------------------------------
s=$IT_DIR/src-lower; write_dockerfile "$s" dockerfile; echo a >"$s/a.txt"
mkrepo autogen "$s"; parity autogen "1 0"
has autogen dockerfile; has autogen a.txt
mc show autogen --json 2>/dev/null | grep -q '"dockerfile_path": *"Dockerfile"' ||
	it_fail "the row does not keep the Dockerfile path as asked"
ok "a tree with only 'dockerfile' builds, with the files docker sends"

# ---- item 10: the Dockerfile's own ignore file -------------------------------------------------
s=$IT_DIR/src-own; write_dockerfile "$s" Dockerfile.prod; write_dockerfile "$s" build/Dockerfile
echo a >"$s/a.txt"; echo b >"$s/b.txt"; echo c >"$s/c.txt"
printf 'a.txt\n' >"$s/.dockerignore"
printf 'b.txt\n.dockerignore\n' >"$s/Dockerfile.prod.dockerignore"
printf 'c.txt\n' >"$s/build/Dockerfile.dockerignore"
mkrepo langgraph "$s"
parity langgraph 1 --dockerfile Dockerfile.prod
has langgraph a.txt; hasnt langgraph b.txt; has langgraph c.txt; hasnt langgraph .dockerignore
parity langgraph 1 --dockerfile build/Dockerfile
has langgraph a.txt; has langgraph b.txt; hasnt langgraph c.txt
ok "Dockerfile.prod.dockerignore and build/Dockerfile.dockerignore win over .dockerignore, as BuildKit"

# the same commit, two Dockerfiles of equal content: their own ignore files make two keys
s=$IT_DIR/src-two; write_dockerfile "$s" x/Dockerfile; write_dockerfile "$s" y/Dockerfile
echo a >"$s/a.txt"; echo b >"$s/b.txt"
printf 'a.txt\n' >"$s/x/Dockerfile.dockerignore"; printf 'b.txt\n' >"$s/y/Dockerfile.dockerignore"
mkrepo openclaw "$s"
tx=$(mc ensure openclaw --network none --dockerfile x/Dockerfile 2>"$IT_DIR/err.x") || { cat "$IT_DIR/err.x"; it_fail "ensure x"; }
ty=$(mc ensure openclaw --network none --dockerfile y/Dockerfile 2>"$IT_DIR/err.y") || { cat "$IT_DIR/err.y"; it_fail "ensure y"; }
[ "$tx" != "$ty" ] || it_fail "x/Dockerfile and y/Dockerfile with their own ignore files share the key $tx"
manifest_of "$tx" >"$IT_DIR/m.x"; manifest_of "$ty" >"$IT_DIR/m.y"
hasnt x a.txt; has x b.txt; has y a.txt; hasnt y b.txt
# a hit keeps the key without reading the tree again
[ "$(mc ensure openclaw --network none --dockerfile x/Dockerfile 2>/dev/null)" = "$tx" ] || it_fail "second ensure of x/Dockerfile: another tag"
ok "equal Dockerfiles with their own ignore files: two keys ($tx, $ty), each image with its own files"
