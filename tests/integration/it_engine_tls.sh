# it_engine_tls.sh — issue 17 item 2: a remote engine reached as the docker CLI
# reaches it. A second dockerd listens on 127.0.0.1 with --tlsverify and
# certificates made by openssl here (a CA, a server cert for IP 127.0.0.1, a
# client cert). molcache builds there with DOCKER_HOST=tcp://… plus
# DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, hits through the current docker
# context (config.json's currentContext, contexts/meta and contexts/tls), and
# refuses ssh:// with exit 2 and a pointer to the docs. Without the TLS
# variables the error says the engine wants TLS.
. "$(dirname "$0")/lib.sh"
it_setup

D=$(mktemp -d /tmp/mc-tls-XXXXXX) # short: containerd's socket lives under the exec root
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop_tls_dockerd() {
	[ -f "$D/dockerd.pid" ] && kill "$(cat "$D/dockerd.pid")" 2>/dev/null || true
	for _ in $(seq 1 100); do [ -f "$D/dockerd.pid" ] && kill -0 "$(cat "$D/dockerd.pid")" 2>/dev/null || break; sleep 0.1; done
	umount -R "$D/data" 2>/dev/null || true
	rm -rf "$D" 2>/dev/null || true
}
trap 'it_rc=$?; stop_tls_dockerd; it_teardown' EXIT

# ---- certificates ------------------------------------------------------------------------------
c=$D/certs
mkdir -p "$c"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mc-test-ca -keyout "$c/ca-key.pem" -out "$c/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$c/server-key.pem" -out "$c/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$c/server.ext"
openssl x509 -req -in "$c/server.csr" -CA "$c/ca.pem" -CAkey "$c/ca-key.pem" -CAcreateserial -days 2 \
	-extfile "$c/server.ext" -out "$c/server-cert.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=client -keyout "$c/key.pem" -out "$c/client.csr" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$c/client.ext"
openssl x509 -req -in "$c/client.csr" -CA "$c/ca.pem" -CAkey "$c/ca-key.pem" -CAcreateserial -days 2 \
	-extfile "$c/client.ext" -out "$c/cert.pem" 2>/dev/null
mkdir -p "$D/client"
cp "$c/ca.pem" "$c/cert.pem" "$c/key.pem" "$D/client/"

# ---- the TLS engine ----------------------------------------------------------------------------
setsid dockerd --data-root "$D/data" --exec-root "$D/x" --pidfile "$D/dockerd.pid" \
	--host "tcp://127.0.0.1:$port" --host "unix://$D/d.sock" --tlsverify --tlscacert "$c/ca.pem" \
	--tlscert "$c/server-cert.pem" --tlskey "$c/server-key.pem" \
	--storage-driver=vfs --iptables=false --ip6tables=false --bridge=none </dev/null >"$D/dockerd.log" 2>&1 &
tcurl() { curl -sf --cacert "$D/client/ca.pem" --cert "$D/client/cert.pem" --key "$D/client/key.pem" "$@"; }
for _ in $(seq 1 600); do tcurl "https://127.0.0.1:$port/_ping" >/dev/null 2>&1 && break; sleep 0.1; done
tcurl "https://127.0.0.1:$port/_ping" >/dev/null || { tail -20 "$D/dockerd.log"; it_fail "the TLS dockerd did not start"; }
# the base image, copied from the fixture's engine over both APIs
engine_get "/images/$MC_BASE_IMAGE/get" >"$D/base.tar" || it_fail "export of the base image"
tcurl -X POST -H 'Content-Type: application/x-tar' --data-binary @"$D/base.tar" "https://127.0.0.1:$port/images/load" >/dev/null ||
	it_fail "load of the base image into the TLS engine"
ok "a dockerd with --tlsverify on 127.0.0.1:$port, certificates from openssl"

src=$(simple_template codex)
mkrepo codex "$src"
tls_env=(DOCKER_HOST="tcp://127.0.0.1:$port" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$D/client")

# ---- without the TLS variables: said so --------------------------------------------------------
rc=0
env DOCKER_HOST="tcp://127.0.0.1:$port" "$MOLCACHE" ensure codex --network none >/dev/null 2>"$IT_DIR/plain.err" || rc=$?
[ $rc = 4 ] || { cat "$IT_DIR/plain.err"; it_fail "plain http to a TLS engine: exit $rc, want 4"; }
grep -q "^hint: .*DOCKER_TLS_VERIFY" "$IT_DIR/plain.err" || { cat "$IT_DIR/plain.err"; it_fail "no hint about DOCKER_TLS_VERIFY"; }
ok "plain http to the TLS engine: exit 4 with a DOCKER_TLS_VERIFY hint"

# ---- DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH: builds -------------------------------
tag=$(env "${tls_env[@]}" "$MOLCACHE" ensure codex --network none -q 2>"$IT_DIR/e1.err") || { cat "$IT_DIR/e1.err"; it_fail "ensure over TLS"; }
tcurl "https://127.0.0.1:$port/images/$tag/json" >/dev/null || it_fail "$tag is not in the TLS engine"
! image_exists "$tag" || it_fail "$tag landed in the fixture's engine"
ok "DOCKER_HOST=tcp:// + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH: built $tag in the TLS engine"

# a wrong CA: refused, and said so
mkdir -p "$D/wrong"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other -keyout "$D/wrong/k" -out "$D/wrong/ca.pem" 2>/dev/null
cp "$D/client/cert.pem" "$D/client/key.pem" "$D/wrong/"
rc=0
env "${tls_env[@]}" DOCKER_CERT_PATH="$D/wrong" "$MOLCACHE" ensure codex --network none >/dev/null 2>"$IT_DIR/ca.err" || rc=$?
[ $rc = 4 ] && grep -qi "certificate" "$IT_DIR/ca.err" || { cat "$IT_DIR/ca.err"; it_fail "a wrong CA: exit $rc"; }
ok "a CA that did not sign the engine's certificate: exit 4, '$(head -1 "$IT_DIR/ca.err")'"

# ---- the current docker context: a hit ---------------------------------------------------------
id=$(printf %s remote | sha256sum | cut -d' ' -f1)
mkdir -p "$HOME/.docker/contexts/meta/$id" "$HOME/.docker/contexts/tls/$id/docker"
printf '{"Name":"remote","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://127.0.0.1:%s","SkipTLSVerify":false}}}' "$port" \
	>"$HOME/.docker/contexts/meta/$id/meta.json"
cp "$D/client/"*.pem "$HOME/.docker/contexts/tls/$id/docker/"
printf '{"auths":{},"currentContext":"remote"}\n' >"$HOME/.docker/config.json"
t2=$(env -u DOCKER_HOST "$MOLCACHE" ensure codex --network none 2>"$IT_DIR/ctx.err") || { cat "$IT_DIR/ctx.err"; it_fail "ensure through the context"; }
[ "$t2" = "$tag" ] || it_fail "through the context: $t2, want $tag"
grep -q "hit" "$IT_DIR/ctx.err" || { cat "$IT_DIR/ctx.err"; it_fail "not a hit through the context"; }
ok "currentContext 'remote' (contexts/meta, contexts/tls): a hit, $t2"
t3=$(env -u DOCKER_HOST DOCKER_CONTEXT=remote "$MOLCACHE" ensure codex --network none -q 2>/dev/null) && [ "$t3" = "$tag" ] ||
	it_fail "DOCKER_CONTEXT=remote"
env -u DOCKER_HOST "$MOLCACHE" doctor --no-remotes --no-build >"$IT_DIR/doc.out" 2>&1 || true
grep -q "127.0.0.1:$port" "$IT_DIR/doc.out" || { cat "$IT_DIR/doc.out"; it_fail "doctor does not name the context's engine"; }
ok "DOCKER_CONTEXT=remote hits too; doctor names 127.0.0.1:$port"

# ---- ssh: refused ------------------------------------------------------------------------------
rc=0
env DOCKER_HOST=ssh://me@build-host "$MOLCACHE" ensure codex --network none >/dev/null 2>"$IT_DIR/ssh.err" || rc=$?
[ $rc = 2 ] || { cat "$IT_DIR/ssh.err"; it_fail "ssh://: exit $rc, want 2"; }
grep -q "^molcache: .*ssh is not supported; use tcp+TLS" "$IT_DIR/ssh.err" && grep -q "^hint: .*docs/operations.md" "$IT_DIR/ssh.err" ||
	{ cat "$IT_DIR/ssh.err"; it_fail "ssh:// message"; }
ok "DOCKER_HOST=ssh://: exit 2, 'ssh is not supported; use tcp+TLS' and the docs"
