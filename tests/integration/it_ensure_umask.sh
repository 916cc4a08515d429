# it_ensure_umask.sh — the umask of whoever runs ensure never reaches the
# image: two cache roots ensure the same template (same key) under umask 077
# and umask 022; the checkouts on disk carry git's modes under both (the
# checkout sets them whatever the umask; the context tar normalises them again,
# see test_context), and so do both images (644 files, 755 executables and
# directories).
. "$(dirname "$0")/lib.sh"
it_setup

src=$(simple_template claude-code)
cat >> "$src/Dockerfile" <<'DF'
RUN cd /ctx && find . -path ./.git -prune -o -print | sort | xargs stat -c '%a %n' > /modes.txt
DF
echo data > "$src/file.txt"
printf '#!/bin/sh\necho hi\n' > "$src/run.sh"; chmod 755 "$src/run.sh"
mkdir -p "$src/dir/sub"; echo deep > "$src/dir/sub/deep.txt"
mkrepo claude-code "$src"

# modes_in TAG: /modes.txt of the image (a container is created, never started)
modes_in() {
	local cid
	cid=$(curl -sf --unix-socket "$(engine_sock)" -H 'Content-Type: application/json' \
		-d "{\"Image\":\"$1\",\"Cmd\":[\"true\"]}" "http://d/containers/create" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["Id"])') || it_fail "cannot create a container of $1"
	engine_get "/containers/$cid/archive?path=/modes.txt" | tar -xOf - modes.txt
	engine_req DELETE "/containers/$cid?force=1" >/dev/null
}

declare -A tag key disk
for m in 077 022; do
	export MOLCACHE_HOME=$IT_DIR/cache-$m
	tag[$m]=$( (umask $m && "$MOLCACHE" ensure claude-code --network none) 2>"$IT_DIR/err.$m") ||
		{ cat "$IT_DIR/err.$m"; it_fail "ensure under umask $m"; }
	key[$m]=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT key FROM entries WHERE image_tag='${tag[$m]}'")
	tree=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT tree_path FROM entries WHERE image_tag='${tag[$m]}'")
	disk[$m]=$(stat -c '%a' "$tree/file.txt" "$tree/run.sh" "$tree/dir" | tr '\n' ' ')
	modes_in "${tag[$m]}" > "$IT_DIR/modes.$m"
done
[ "${key[077]}" = "${key[022]}" ] || it_fail "two umasks gave two keys: ${key[077]} ${key[022]}"
[ "${disk[077]}" = "644 755 755 " ] || it_fail "umask 077 checkout on disk: ${disk[077]}, want git's modes"
[ "${disk[022]}" = "644 755 755 " ] || it_fail "umask 022 checkout on disk: ${disk[022]}"
ok "same key ${key[022]:0:12} under both umasks; on disk the checkouts are '${disk[077]}' and '${disk[022]}'"

cat > "$IT_DIR/modes.want" <<'M'
755 .
644 ./Dockerfile
755 ./dir
755 ./dir/sub
644 ./dir/sub/deep.txt
644 ./file.txt
755 ./run.sh
M
for m in 077 022; do
	diff -u "$IT_DIR/modes.want" "$IT_DIR/modes.$m" >&2 || it_fail "modes inside the image built under umask $m"
done
ok "inside both images the context carries git's modes (644, 755): $(tr '\n' ' ' < "$IT_DIR/modes.077")"

# the same context tar gives BuildKit the same layers: the second root reused the first's
l077=$(engine_get "/images/$(urlenc "${tag[077]}")/json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["RootFS"]["Layers"])')
l022=$(engine_get "/images/$(urlenc "${tag[022]}")/json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["RootFS"]["Layers"])')
[ "$l077" = "$l022" ] && echo "note: both roots' images have the same layers" || echo "note: the layers differ (the builder's cache was not used)"
