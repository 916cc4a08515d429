# it_remotes.sh — ensure over git:// (git daemon), and smart HTTP and HTTPS
# with a token (git http-backend behind lighttpd with basic auth; HTTPS with a
# private CA); the token appears nowhere.
. "$(dirname "$0")/lib.sh"
it_setup

TOKEN="tok-$RANDOM$RANDOM-secret"
export GITSERVE_TOKEN=$TOKEN
src=$(simple_template gemini-cli)
mkrepo gemini-cli "$src"
bash "$MC_SRC/tests/integration/gitserve.sh" start "$GITROOT" >"$IT_DIR/gitserve.log" 2>&1 ||
	{ cat "$IT_DIR/gitserve.log"; it_fail "git servers did not start"; }
IT_GITSERVE=1
. "$GITROOT/.gitserve.env"

# git://
t1=$(MOLCACHE_REPO_PREFIX="$GIT_DAEMON_URL/workspace-template-" mc ensure gemini-cli --network none 2>"$IT_DIR/e1") ||
	{ cat "$IT_DIR/e1"; it_fail "ensure over git://"; }
image_exists "$t1" || it_fail "git:// image missing"
ok "git:// cold build $t1"

# http:// with MOLCACHE_GIT_TOKEN: another prefix, so another key
http_prefix="$GIT_HTTP_URL/workspace-template-"
t2=$(MOLCACHE_GIT_TOKEN=$TOKEN MOLCACHE_REPO_PREFIX=$http_prefix mc ensure gemini-cli --network none 2>"$IT_DIR/e2") ||
	{ cat "$IT_DIR/e2"; it_fail "ensure over http:// with token"; }
image_exists "$t2" || it_fail "http image missing"
t2b=$(MOLCACHE_GIT_TOKEN=$TOKEN MOLCACHE_REPO_PREFIX=$http_prefix mc ensure gemini-cli --network none 2>"$IT_DIR/e2b")
[ "$t2b" = "$t2" ] || it_fail "http hit gave another tag"
ok "http:// with MOLCACHE_GIT_TOKEN: build then hit ($t2)"

# http:// without the token: refused, exit 3, URL named
set +e
MOLCACHE_REPO_PREFIX=$http_prefix mc ensure gemini-cli --network none >/dev/null 2>"$IT_DIR/e3"; rc=$?
set -e
[ $rc = 3 ] || { cat "$IT_DIR/e3"; it_fail "no token: exit $rc, want 3"; }
grep -q "127.0.0.1" "$IT_DIR/e3" || it_fail "no-token error does not name the remote"
ok "http:// without a token fails with exit 3: $(head -1 "$IT_DIR/e3")"

# https:// with a certificate from a private CA. molcache hands libgit2 the
# system bundle only when a remote may speak TLS: prove that bundle is really
# used by bind-mounting one that trusts the test CA over it (in a private mount
# namespace), and that MOLCACHE_CA_FILE replaces it.
https_prefix="$GIT_HTTPS_URL/workspace-template-"
unset MOLCACHE_CA_FILE GIT_SSL_CAINFO # this machine's own settings would decide the outcome
export MOLCACHE_GIT_TOKEN=$TOKEN
set +e
MOLCACHE_REPO_PREFIX=$https_prefix mc ensure gemini-cli --network none >/dev/null 2>"$IT_DIR/e7"; rc=$?
set -e
[ $rc = 3 ] || { cat "$IT_DIR/e7"; it_fail "untrusted certificate: exit $rc, want 3"; }
grep -q "^hint: .*MOLCACHE_CA_FILE" "$IT_DIR/e7" || { cat "$IT_DIR/e7"; it_fail "no hint naming MOLCACHE_CA_FILE"; }
set +e
MOLCACHE_CA_FILE=$IT_DIR/no-such.pem MOLCACHE_REPO_PREFIX=$https_prefix mc ensure gemini-cli >/dev/null 2>"$IT_DIR/e8"; rc=$?
set -e
[ $rc = 1 ] && grep -q "^molcache: CA certificates '$IT_DIR/no-such.pem'" "$IT_DIR/e8" ||
	{ cat "$IT_DIR/e8"; it_fail "a missing MOLCACHE_CA_FILE: exit $rc, want 1 naming the file"; }
t7=$(MOLCACHE_CA_FILE=$GITSERVE_CA MOLCACHE_REPO_PREFIX=$https_prefix mc ensure gemini-cli --network none 2>"$IT_DIR/e9") ||
	{ cat "$IT_DIR/e9"; it_fail "ensure over https:// with MOLCACHE_CA_FILE"; }
image_exists "$t7" || it_fail "https image missing"
cat /etc/ssl/certs/ca-certificates.crt "$GITSERVE_CA" > "$IT_DIR/bundle.pem"
t7b=$(MOLCACHE_REPO_PREFIX=$https_prefix unshare --mount sh -c \
	'mount --bind "$1" /etc/ssl/certs/ca-certificates.crt && exec "$2" ensure gemini-cli --network none' \
	sh "$IT_DIR/bundle.pem" "$MOLCACHE" 2>"$IT_DIR/e10") || { cat "$IT_DIR/e10"; it_fail "https:// with the CA in the system bundle"; }
[ "$t7b" = "$t7" ] || it_fail "https hit through the system bundle gave another tag"
# MOLCACHE_CA_FILE replaces the system's CAs (the same under mbedTLS and
# OpenSSL): with a system bundle that trusts the test CA, a CA file naming
# another CA leaves the server untrusted.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$IT_DIR/other.key" -out "$IT_DIR/other.pem" -days 2 \
	-subj /CN=molcache-other-ca >/dev/null 2>&1 || it_fail "openssl: cannot make a second CA"
set +e
MOLCACHE_CA_FILE=$IT_DIR/other.pem MOLCACHE_REPO_PREFIX=$https_prefix unshare --mount sh -c \
	'mount --bind "$1" /etc/ssl/certs/ca-certificates.crt && exec "$2" ensure gemini-cli --network none' \
	sh "$IT_DIR/bundle.pem" "$MOLCACHE" >/dev/null 2>"$IT_DIR/e11"; rc=$?
set -e
[ $rc = 3 ] || { cat "$IT_DIR/e11"; it_fail "MOLCACHE_CA_FILE of another CA: exit $rc, want 3 (it replaces the system's)"; }

# When CAs are parsed: doctor says, and strace shows it. A git:// hit never
# opens a CA bundle (neither the system's nor MOLCACHE_CA_FILE), so it cannot
# parse one; an https hit opens MOLCACHE_CA_FILE and verifies against it. The
# build decides the mode: MC_DEFER_CAS (on when libgit2 is linked to a shared
# mbedTLS) defers, and without it libgit2 parses the system's at every start.
want=eager
grep -q '^MC_DEFER_CAS:BOOL=ON' "$MC_BUILD/CMakeCache.txt" && want=deferred
mode=$(mc doctor --no-build --no-remotes 2>&1 | sed -n 's/^[A-Z]*  *CA loading  *\([a-z]*\):.*/\1/p')
[ "$mode" = "$want" ] || it_fail "doctor: CA loading '$mode', want '$want'"
trace_opens() { # OUT CMD…: the files the command opened (strace), its stdout on stdout
	local out=$1; shift
	# LeakSanitizer cannot run under ptrace: leaks are checked by every other run
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -e trace=open,openat -e signal=none \
		-o "$out" "$@"
}
bundle=$(readlink -f /etc/ssl/certs/ca-certificates.crt)
t8=$(MOLCACHE_CA_FILE=$GITSERVE_CA MOLCACHE_REPO_PREFIX="$GIT_DAEMON_URL/workspace-template-" \
	trace_opens "$IT_DIR/st-git" "$MOLCACHE" ensure gemini-cli --network none 2>"$IT_DIR/e12") ||
	{ cat "$IT_DIR/e12"; it_fail "git:// hit under strace"; }
[ "$t8" = "$t1" ] || it_fail "git:// hit under strace gave another tag"
grep -q 'index\.db' "$IT_DIR/st-git" || it_fail "strace saw no file opened: the trace proves nothing"
if [ "$want" = deferred ]; then
	! grep -E "/etc/ssl/certs|$bundle|$GITSERVE_CA" "$IT_DIR/st-git" ||
		it_fail "a git:// hit opened a CA bundle (deferred loading should not)"
	ok "CA loading: deferred (doctor); a git:// hit opens no CA bundle"
else
	grep -qE "/etc/ssl/certs|$bundle" "$IT_DIR/st-git" || it_fail "eager loading, yet the git:// hit opened no CA bundle"
	ok "CA loading: eager (doctor); a git:// hit opens the system's CA bundle"
fi
t9=$(MOLCACHE_CA_FILE=$GITSERVE_CA MOLCACHE_REPO_PREFIX=$https_prefix \
	trace_opens "$IT_DIR/st-https" "$MOLCACHE" ensure gemini-cli --network none 2>"$IT_DIR/e13") ||
	{ cat "$IT_DIR/e13"; it_fail "https:// hit under strace"; }
[ "$t9" = "$t7" ] || it_fail "https hit under strace gave another tag"
grep -qF "$GITSERVE_CA" "$IT_DIR/st-https" || it_fail "the https hit never opened MOLCACHE_CA_FILE"
ok "an https hit opens MOLCACHE_CA_FILE and verifies; a CA file of another CA replaces the system's (exit 3)"
unset MOLCACHE_GIT_TOKEN
ok "https:// with a private CA: untrusted exits 3 with a hint; MOLCACHE_CA_FILE and the system bundle both trust it ($t7)"

# credentials in the prefix URL, and a wrong port with credentials: masked
cred_prefix="http://molcache:$TOKEN@${GIT_HTTP_URL#http://}/workspace-template-"
t4=$(MOLCACHE_REPO_PREFIX=$cred_prefix mc ensure gemini-cli --network none 2>"$IT_DIR/e4") ||
	{ cat "$IT_DIR/e4"; it_fail "ensure with credentials in the prefix"; }
[ "$t4" = "$t2" ] || it_fail "credentials in the URL changed the key ($t4 vs $t2)"
set +e
MOLCACHE_REPO_PREFIX="http://molcache:$TOKEN@127.0.0.1:1/workspace-template-" mc ensure gemini-cli >/dev/null 2>"$IT_DIR/e5"; rc=$?
set -e
[ $rc = 3 ] || { cat "$IT_DIR/e5"; it_fail "unreachable: exit $rc, want 3"; }
grep -q '\*\*\*@127.0.0.1:1' "$IT_DIR/e5" || { cat "$IT_DIR/e5"; it_fail "unreachable error does not show the masked URL"; }
# a password with an unencoded '/' or '#' makes the URL malformed: still never shown
for pw in "a/b-$TOKEN" "pa#ss-$TOKEN"; do
	set +e; mc ensure gemini-cli --repo-prefix "http://molcache:$pw@127.0.0.1:1/x-" >/dev/null 2>"$IT_DIR/e6"; rc=$?; set -e
	[ $rc = 3 ] || { cat "$IT_DIR/e6"; it_fail "malformed credential URL: exit $rc, want 3"; }
	grep -q -- "${pw%%-*}" "$IT_DIR/e6" && { cat "$IT_DIR/e6"; it_fail "password part shown for a malformed URL"; }
	cat "$IT_DIR/e6" >> "$IT_DIR/e5"
done
ok "credentials in the prefix work; unreachable or malformed remote exits 3 with the credentials masked"

# the token appears nowhere: output, errors, index, mirrors, logs, labels
for f in "$IT_DIR"/e* ; do grep -q -- "$TOKEN" "$f" && it_fail "token in $f"; done
echo "$t1 $t2 $t4 $t7" | grep -q -- "$TOKEN" && it_fail "token in a tag"
grep -rqa -- "$TOKEN" "$MOLCACHE_HOME" && it_fail "token under the cache root: $(grep -rla -- "$TOKEN" "$MOLCACHE_HOME")"
for t in "$t1" "$t2" "$t7"; do engine_get "/images/$t/json" | grep -q -- "$TOKEN" && it_fail "token in the image config of $t"; done
engine_get "/images/$t2/json" | grep -q "molcache.repo-prefix" || it_fail "labels missing"
ok "the token appears in no output, error, index, mirror, log or label"
