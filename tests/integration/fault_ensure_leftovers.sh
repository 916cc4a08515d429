# fault_ensure_leftovers.sh — an ensure killed (-9) mid-checkout leaves
# tmp/<key>.<pid>; the next ensure that takes the key's exclusive lock removes
# every such leftover of its own key (the pid dead, reused by another program,
# or from another pid namespace: the lock alone proves it abandoned), and
# nothing else in tmp/.
. "$(dirname "$0")/lib.sh"
it_setup

src=$(simple_template codex)
for i in $(seq 1 150); do head -c 100000 /dev/urandom > "$src/blob$i"; done # a slow checkout
mkrepo codex "$src"
key_of() { mc explain codex --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])'; }
tmp=$MOLCACHE_HOME/tmp

# ---- planted leftovers: a dead pid, a live non-molcache pid, and neighbours to keep ----
key=$(key_of)
[ ${#key} = 64 ] || it_fail "no key from explain"
sleep 300 & sleeper=$!
dead=$(( $(cat /proc/sys/kernel/pid_max) - 7 )); while kill -0 $dead 2>/dev/null; do dead=$((dead - 1)); done
other=$(printf '%064d' 7)
for d in "$key.$dead" "$key.$sleeper" "$key.1" "$key.gc-keep" "$other.$dead" "gc-x.$dead"; do
	mkdir -p "$tmp/$d/sub"; head -c 100000 /dev/urandom > "$tmp/$d/sub/blob"
done
tag=$(mc ensure codex --network none 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "ensure with leftovers"; }
kill $sleeper 2>/dev/null || true; wait $sleeper 2>/dev/null || true
for d in "$key.$dead" "$key.$sleeper" "$key.1"; do
	[ ! -e "$tmp/$d" ] || it_fail "leftover tmp/$d not removed"
done
for d in "$key.gc-keep" "$other.$dead" "gc-x.$dead"; do
	[ -d "$tmp/$d" ] || it_fail "tmp/$d (not this key's checkout) was removed"
done
[ "$(counter leftovers_removed)" = 3 ] || it_fail "leftovers_removed counter is $(counter leftovers_removed), want 3"
rm -rf "${tmp:?}"/*
ok "the next ensure of the key removed its 3 leftovers (dead pid, live non-molcache pid, pid 1) and kept the rest"

# ---- the real thing: kill -9 while the checkout is being written ---------------------------
caught=0
for trial in $(seq 1 8); do
	commit codex blob1 "trial $trial $RANDOM"
	key=$(key_of) # fetches the commit: the ensure below goes straight to the checkout
	"$MOLCACHE" ensure codex --network none -q >/dev/null 2>&1 & pid=$! # not the mc function: $! must be molcache itself
	for _ in $(seq 1 2000); do
		[ -d "$tmp/$key.$pid" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.005
	done
	kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
	[ -d "$tmp/$key.$pid" ] || continue # too late or too early this time
	caught=$((caught + 1))
	tag=$(mc ensure codex --network none -q 2>"$IT_DIR/err") || { cat "$IT_DIR/err"; it_fail "ensure after kill -9 (trial $trial)"; }
	image_exists "$tag" || it_fail "trial $trial: $tag missing"
	[ ! -e "$tmp/$key.$pid" ] || it_fail "trial $trial: tmp/$key.$pid left by the killed ensure is still there"
	[ -z "$(ls -A "$tmp")" ] || it_fail "trial $trial: tmp/ holds $(ls "$tmp")"
	[ $caught -ge 3 ] && break
done
[ $caught -ge 1 ] || it_fail "no kill landed in a checkout in 8 trials"
ok "$caught ensures killed -9 mid-checkout: each next ensure removed tmp/<key>.<pid> and built"
