"""A local HTTP server that answers every GET after a delay.

Used by the fetch demonstration, the tests and the benchmarks: run it in its
own process, read the port from its first line of output.

    python examples/slow_server.py --delay-ms 50 [--port 0] [--tls CERTFILE]

With ``--tls`` it speaks HTTPS with the key and certificate chain in
CERTFILE (examples/tls/localhost.pem, signed by examples/tls/ca.pem: test
certificates, for 127.0.0.1 and localhost only).
"""

import argparse
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    delay = 0.05
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        time.sleep(self.delay)
        body = f"hello from {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    tls = None  # an SSLContext, for HTTPS

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls is not None:
            # The handshake happens at the first read, in the request's
            # thread, so that one slow client does not hold up accept().
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--delay-ms", type=float, default=50.0)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls", metavar="CERTFILE", help="serve HTTPS with this key and certificate chain")
    args = p.parse_args()
    Handler.delay = args.delay_ms / 1000
    if args.tls:
        Server.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        Server.tls.load_cert_chain(args.tls)
    with Server(("127.0.0.1", args.port), Handler) as srv:
        print(srv.server_address[1], flush=True)
        try:
            srv.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
