# tokensrv.py KEY CERT PORTFILE LOG BADFILE: a Docker registry token service
# (distribution's auth.token) on 127.0.0.1 for it_registry_token.sh. Each GET
# /token?service=&scope= is answered with an RS256 JWT signed by KEY (openssl
# dgst), CERT in its x5c header, granting every action of each scope asked.
# BADFILE, read at each request, holds how many of the next tokens expired an
# hour ago ("all": every token), as a token cached past its lifetime or a
# registry with a skewed clock sees it. Each request's scope and whether its token was good go to LOG.
import base64, http.server, json, subprocess, sys, threading, time, urllib.parse
key, cert, port_file, log, bad_file = sys.argv[1:6]
lock = threading.Lock()

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True, capture_output=True).stdout

def token(service, scopes, expired):
    now = int(time.time())
    exp = now - 3600 if expired else now + 300
    access = []
    for s in scopes:
        kind, _, rest = s.partition(":")
        name, _, actions = rest.rpartition(":")
        access.append({"type": kind, "name": name, "actions": actions.split(",")})
    head = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
    claims = {"iss": "mc-issuer", "sub": "", "aud": service, "exp": exp, "nbf": exp - 600, "iat": exp - 600,
              "jti": "%d-%d" % (now, time.monotonic_ns()), "access": access}
    signing = b64(json.dumps(head).encode()) + "." + b64(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing.encode(), check=True,
                         capture_output=True).stdout
    return signing + "." + b64(sig)

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        q = urllib.parse.urlparse(self.path)
        args = urllib.parse.parse_qs(q.query)
        with lock:
            bad = open(bad_file).read().strip()
            expired = bad == "all" or int(bad) > 0
            if bad != "all" and int(bad) > 0:
                open(bad_file, "w").write(str(int(bad) - 1))
        with open(log, "a") as f:
            f.write("token %s scope=%s\n" % ("expired" if expired else "good", " ".join(args.get("scope", []))))
        body = json.dumps({"token": token(args.get("service", [""])[0], args.get("scope", []), expired)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file, "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
