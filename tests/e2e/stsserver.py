"""A small HTTPS server for MTA-STS policies (RFC 8461 §3.3) in the end-to-end
tests: GET /.well-known/mta-sts.txt answers DIR/<Host header>.txt as text/plain
(404 when there is none); every request is appended to DIR/requests.log. A POST
(a TLS-RPT report, RFC 8460 §5.4) is stored as DIR/post-<n>.bin with its
Content-Type in DIR/post-<n>.type (at most 1 MiB), answered 201.

    python3 stsserver.py --listen 127.0.0.20:443 --dir DIR --cert C --key K

Prints "sts ready" once listening. Run it in a Network (network.popen).
"""

import argparse
import http.server
import os
import ssl
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    args = ap.parse_args()
    directory = args.dir

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            host = (self.headers.get("Host") or "").split(":")[0].lower()
            with open(os.path.join(directory, "requests.log"), "a") as log:
                log.write("%s %s\n" % (host, self.path))
            path = os.path.join(directory, host + ".txt")
            if self.path != "/.well-known/mta-sts.txt" or not os.path.exists(path):
                self.send_error(404)
                return
            with open(path, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > 1 << 20:
                self.send_error(413)
                return
            body = self.rfile.read(length)
            n = len([f for f in os.listdir(directory) if f.endswith(".bin")]) + 1
            base = os.path.join(directory, "post-%d" % n)
            with open(base + ".type", "w") as f:
                f.write(self.headers.get("Content-Type") or "")
            with open(base + ".bin.tmp", "wb") as f:
                f.write(body)
            os.replace(base + ".bin.tmp", base + ".bin")
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    host, _, port = args.listen.rpartition(":")
    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("sts ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
