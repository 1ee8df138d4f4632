"""Unmodified network programs under the patch layer: urllib against a
stdlib http.server in another process, and socketserver-based servers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from .conftest import run_child

DELAY = 0.25

SLOW_HTTP_SERVER = f"""
import http.server, time
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep({DELAY})
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True
server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@pytest.fixture(scope="module")
def slow_server() -> Iterator[int]:
    """A plain (unpatched) threaded HTTP server in another process that
    answers every request after DELAY seconds."""
    proc = subprocess.Popen([sys.executable, "-c", SLOW_HTTP_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


FAN_OUT = """
import child; child.start()
import offset; offset.patch_all()
import os, time, urllib.request
port = int(os.environ["PORT"])
N = 200
def fetch(i, results):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{i}", timeout=20) as r:
        results[i] = r.read().decode()
def main():
    one = {}
    t0 = time.monotonic()
    fetch(-1, one)
    single = time.monotonic() - t0
    results = {}
    t0 = time.monotonic()
    for i in range(N):
        offset.go(fetch, i, results)
    while len(results) < N and time.monotonic() - t0 < 30:
        time.sleep(0.01)
    return single, time.monotonic() - t0, results
single, took, results = offset.run(main)
child.report({"single": single, "took": took, "ok": sum(results[i] == f"/{i}" for i in range(N)) if len(results) == N else len(results)})
"""


def test_200_urllib_fetches_take_about_one_request(slow_server: int) -> None:
    r = run_child(FAN_OUT, env={"PORT": str(slow_server)})
    assert r["ok"] == 200
    assert DELAY <= r["single"] < DELAY + 1.0
    # Sequentially this would take 200 * DELAY = 50 s.
    assert DELAY <= r["took"] < r["single"] + 2.0


SOCKETSERVERS = """
import child; child.start()
import offset; offset.patch_all()
import socket, socketserver, threading, time, urllib.request, http.server

class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        time.sleep(float(line.split()[1]))
        self.wfile.write(line.upper())

class GoroutineMixIn:
    # A goroutine per request, as ThreadingMixIn makes a thread.
    def process_request(self, request, client_address):
        offset.go(self._serve_one, request, client_address)
    def _serve_one(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

class GoroutineTCPServer(GoroutineMixIn, socketserver.TCPServer):
    request_queue_size = 256

# socketserver's default backlog of 5 would make 20 clients at once wait for
# SYN retransmits (a second each), with or without offset.
class TCPServer(socketserver.TCPServer):
    request_queue_size = 256

class ThreadingTCPServer(socketserver.ThreadingTCPServer):
    request_queue_size = 256

def ask(port, word, pause, results):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(f"{word} {pause}\\n".encode())
        f = s.makefile("rb")
        results.append(f.readline().decode())

def run_clients(port, n, pause):
    results = []
    t0 = time.monotonic()
    for i in range(n):
        offset.go(ask, port, f"w{i}", pause, results)
    while len(results) < n and time.monotonic() - t0 < 20:
        time.sleep(0.005)
    return sorted(results) == sorted(f"W{i} {pause}\\n".upper() for i in range(n)), time.monotonic() - t0

class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data.upper(), self.client_address)

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.1)
        body = b"hello " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

class GoroutineHTTPServer(GoroutineMixIn, http.server.HTTPServer):
    request_queue_size = 256

def main():
    out = {}
    servers = {
        "tcp": TCPServer(("127.0.0.1", 0), Upper),
        "threading": ThreadingTCPServer(("127.0.0.1", 0), Upper),
        "goroutines": GoroutineTCPServer(("127.0.0.1", 0), Upper),
    }
    for server in servers.values():
        offset.go(server.serve_forever, 0.05)
    # One request at a time (TCPServer): 20 clients are served in turn.
    out["tcp"] = run_clients(servers["tcp"].server_address[1], 20, 0)[0]
    # A thread per request: the handlers use the originals, in their threads.
    out["threading"] = run_clients(servers["threading"].server_address[1], 20, 0.1)
    # A goroutine per request: 100 handlers sleep 0.1 s at once.
    out["goroutines"] = run_clients(servers["goroutines"].server_address[1], 100, 0.1)

    udp = socketserver.UDPServer(("127.0.0.1", 0), Echo)
    offset.go(udp.serve_forever, 0.05)
    replies = []
    def udp_client(i):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(f"u{i}".encode(), udp.server_address)
            replies.append(s.recvfrom(100)[0].decode())
    for i in range(10):
        offset.go(udp_client, i)
    t0 = time.monotonic()
    while len(replies) < 10 and time.monotonic() - t0 < 10:
        time.sleep(0.005)
    out["udp"] = sorted(replies) == sorted(f"U{i}" for i in range(10))

    web = GoroutineHTTPServer(("127.0.0.1", 0), Hello)
    offset.go(web.serve_forever, 0.05)
    pages = []
    def get(i):
        with urllib.request.urlopen(f"http://127.0.0.1:{web.server_address[1]}/{i}", timeout=10) as r:
            pages.append(r.read().decode())
    t0 = time.monotonic()
    for i in range(50):
        offset.go(get, i)
    while len(pages) < 50 and time.monotonic() - t0 < 10:
        time.sleep(0.005)
    out["http"] = [sorted(pages) == sorted(f"hello /{i}" for i in range(50)), time.monotonic() - t0]
    servers["udp"] = udp
    servers["http"] = web
    return out, servers

out, servers = offset.run(main)   # serve_forever goroutines stop with main
for server in servers.values():
    server.server_close()
child.report(out)
"""


def test_socketserver_servers() -> None:
    out = run_child(SOCKETSERVERS)
    assert out["tcp"] is True
    ok, took = out["threading"]
    assert ok and 0.1 <= took < 1.5  # 20 handler threads of 0.1 s at once
    ok, took = out["goroutines"]
    assert ok and 0.1 <= took < 1.5  # 100 handlers of 0.1 s at once
    assert out["udp"] is True
    ok, took = out["http"]
    assert ok and 0.1 <= took < 1.5  # 50 requests of 0.1 s at once
