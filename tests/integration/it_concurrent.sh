# it_concurrent.sh — 8 concurrent ensures of one cold key run one build and print one tag.
. "$(dirname "$0")/lib.sh"
it_setup

src=$(simple_template codex)
echo 'RUN sleep 2' >> "$src/Dockerfile"
mkrepo codex "$src"
pids=()
for i in $(seq 1 8); do
	mc ensure codex --network none >"$IT_DIR/out.$i" 2>"$IT_DIR/err.$i" & pids+=($!)
done
for i in $(seq 1 8); do wait "${pids[$((i - 1))]}" || { cat "$IT_DIR/err.$i"; it_fail "ensure $i failed"; }; done
[ "$(sort -u "$IT_DIR"/out.* | wc -l)" = 1 ] || it_fail "tags differ: $(cat "$IT_DIR"/out.*)"
[ "$(counter builds)" = 1 ] || it_fail "builds=$(counter builds), want 1"
[ "$(counter hits)" = 7 ] || it_fail "hits=$(counter hits), want 7"
image_exists "$(cat "$IT_DIR/out.1")" || it_fail "image missing"
ok "8 concurrent ensures: one build, one tag $(cat "$IT_DIR/out.1")"
