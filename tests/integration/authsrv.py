# authsrv.py MODE HOST PORTFILE LOG [TARGET]: a tiny HTTP server for it_git_auth.sh (and the registry trust checks).
#  close401  answers every request 401 (Basic challenge), a body shorter than
#            its Content-Length, and closes the connection
#  redirect  answers 302 to TARGET + the request's path
#  record    answers 401 with a Basic challenge
#  bearer    a registry front: answers 401 with a Bearer challenge whose realm is TARGET
#  authredirect  answers 401 (Basic challenge) without Authorization, and 302
#            to TARGET + the request's path with it
# Each request's first line and whether it carried Authorization go to LOG.
import http.server, socket, sys
mode, host, port_file, log = sys.argv[1:5]
target = sys.argv[5] if len(sys.argv) > 5 else ""
def note(line):
    with open(log, "a") as f: f.write(line + "\n")
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        note("%s %s auth=%s" % (self.command, self.path, "yes" if self.headers.get("Authorization") else "no"))
        if mode == "close401":
            self.wfile.write(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 100\r\n\r\nshort")
            self.wfile.flush(); self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == "authredirect" and self.headers.get("Authorization"):
            self.send_response(302); self.send_header("Location", target + self.path)
        elif mode == "redirect":
            self.send_response(302); self.send_header("Location", target + self.path)
        elif mode == "bearer":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Bearer realm="%s",service="reg",scope="registry:catalog:*"' % target)
        else:
            self.send_response(401); self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0"); self.end_headers()
    do_POST = do_HEAD = do_GET
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer((host, 0), H)
with open(port_file, "w") as f: f.write(str(srv.server_address[1]))
srv.serve_forever()
