"""A local HTTP server that answers every GET after a delay.

Used by the fetch demonstration, the tests and the benchmarks: run it in its
own process, read the port from its first line of output.

    python examples/slow_server.py --delay-ms 50 [--port 0]
"""

import argparse
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


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--delay-ms", type=float, default=50.0)
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    Handler.delay = args.delay_ms / 1000
    with Server(("127.0.0.1", args.port), Handler) as srv:
        print(srv.server_address[1], flush=True)
        try:
            srv.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
