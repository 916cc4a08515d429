# faultreg.py UPSTREAM PORTFILE MODEFILE LOG: a registry front on 127.0.0.1 for
# the registry fault tests. GET and HEAD go to UPSTREAM (a real docker-registry,
# host:port) unless the mode, read from MODEFILE at each request, fails them;
# every other method (blob uploads, manifest PUT) is answered 500: the front
# forwards no request body.
#   pass      forward GET and HEAD
#   pull500   forward, but answer 500 to a blob GET that is not an image config
#             (the configs are learnt from the manifests that pass through):
#             the engine retries each layer, counting down "Retrying in N seconds"
# Each request's mode, method, path and client (docker or molcache, from its
# User-Agent) go to LOG.
import http.client, http.server, json, sys, threading
upstream, port_file, mode_file, log = sys.argv[1:5]
configs = set()
lock = threading.Lock()

def mode():
    try:
        return open(mode_file).read().strip()
    except OSError:
        return "pass"

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def fail(self):
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        body = b'{"errors":[{"code":"UNKNOWN","message":"faultreg: injected failure"}]}'
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward(self):
        m = mode()
        with open(log, "a") as f:
            ua = self.headers.get("User-Agent", "")
            who = "docker" if ua.startswith("docker/") else "molcache" if ua.startswith("molcache/") else "other"
            f.write("%s %s %s %s\n" % (m, self.command, self.path, who))
        if self.command not in ("GET", "HEAD"):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            return self.fail()
        if m == "pull500" and self.command == "GET" and "/blobs/" in self.path:
            with lock:
                known = self.path.rsplit("/", 1)[1] in configs
            if not known:
                return self.fail()
        c = http.client.HTTPConnection(upstream, timeout=30)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        c.request(self.command, self.path, headers=hdrs)
        r = c.getresponse()
        body = r.read()
        if "/manifests/" in self.path and body:
            try:
                d = json.loads(body).get("config", {}).get("digest")
                if d:
                    with lock:
                        configs.add(d)
            except ValueError:
                pass
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v.replace(upstream, self.headers.get("Host", upstream)))
        self.send_header("Content-Length", str(r.getheader("Content-Length") if self.command == "HEAD" and r.getheader("Content-Length") else len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        c.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = forward

    def log_message(self, *a):
        pass

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file, "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
