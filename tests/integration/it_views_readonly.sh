# it_views_readonly.sh — explain, status, ls and show never write to the engine
# (the engine's event log shows no tag, untag or delete while they run, even
# when the key's tag is missing), and a row whose image_tag is NULL or has no
# colon does not crash them; the next ensure repairs such a row.
. "$(dirname "$0")/lib.sh"
it_setup

src=$(simple_template claude-code)
mkrepo claude-code "$src"
tag=$(mc ensure claude-code --network none 2>/dev/null)
key=$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT key FROM entries WHERE image_tag='$tag'")
[ -n "$key" ] || it_fail "no row for $tag"
id=$(image_id "$tag")

# the key's tag removed by hand: the image stays, held by :latest
engine_req DELETE "/images/$(urlenc "$tag")" >/dev/null
! image_exists "$tag" || it_fail "$tag still there after its DELETE"

image_events() { # image_events SINCE: every image event since then (tag, untag, delete, …)
	sleep 1
	engine_get "/events?since=$1&until=$(($(date +%s) + 1))&filters=$(urlenc '{"type":["image"]}')"
}
views() { # every read-only view, text and JSON; each must exit 0
	local v rc
	for v in "explain claude-code" "explain claude-code --json" "status" "status --json" "ls" "ls --json" \
		"ls --runtime claude-code" "show $key" "show ${key:0:12}" "show claude-code" "show claude-code --json"; do
		# shellcheck disable=SC2086
		set +e; mc $v >"$IT_DIR/view.out" 2>"$IT_DIR/view.err"; rc=$?; set -e
		[ $rc = 0 ] || { cat "$IT_DIR/view.err"; it_fail "molcache $v: exit $rc ($1)"; }
	done
}

since=$(date +%s.%N)
views "the key's tag missing"
ev=$(image_events "$since")
[ -z "$ev" ] || it_fail "the views wrote to the engine: $ev"
! image_exists "$tag" || it_fail "a view put $tag back"
mc explain claude-code --json > "$IT_DIR/x.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["result"]=="hit" else 1)' "$IT_DIR/x.json" ||
	it_fail "explain: not a hit though the image is there by id: $(cat "$IT_DIR/x.json")"
ok "explain, status, ls and show send no tag, untag or delete (the key's tag stays missing; explain says hit)"

# ensure, by contrast, puts the tag back
[ "$(mc ensure claude-code --network none 2>/dev/null)" = "$tag" ] || it_fail "ensure after the tag was removed"
[ "$(image_id "$tag")" = "$id" ] || it_fail "ensure did not put $tag back on $id"
ok "ensure puts the missing key tag back on the same image"

# ---- damaged rows: image_tag NULL, then without a colon --------------------
for bad in NULL "'nocolon'" "'molcache/claude-code:'" "':x'"; do
	sqlite3 "$MOLCACHE_HOME/index.db" "UPDATE entries SET image_tag = $bad WHERE key = '$key'"
	since=$(date +%s.%N)
	views "image_tag $bad"
	ev=$(image_events "$since")
	[ -z "$ev" ] || it_fail "the views wrote to the engine (image_tag $bad): $ev"
done
ok "a row with image_tag NULL, 'nocolon', 'repo:' or ':x' crashes none of the views, and they still write nothing"

# the next ensure treats the damaged row as gone and writes a whole one
got=$(mc ensure claude-code --network none 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "ensure over a damaged row"; }
[ "$got" = "$tag" ] || it_fail "ensure over a damaged row printed '$got', want '$tag'"
[ "$(sqlite3 "$MOLCACHE_HOME/index.db" "SELECT image_tag FROM entries WHERE key='$key'")" = "$tag" ] ||
	it_fail "the row's tag was not repaired"
image_exists "$tag" || it_fail "$tag missing after the repair"
ok "ensure repairs a row whose tag was damaged"
