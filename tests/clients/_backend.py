"""Helper servers for the client tests, each in a process of its own.

They run unpatched, outside the system under test: the test starts one with
``Backend(kind, *args)``, which runs this file as a script and reads the
port from its first line of output, and stops it when done.

``http``: a ThreadingHTTPServer (HTTP/1.1, keep-alive, a backlog of 1024)
whose ``GET /work?run=R&i=N`` answers ``R:N`` after ``--delay-ms``. It
counts, per run tag R, the requests served, the most in flight at once and
the most connections open at once (a connection counts for R from its
first request tagged R until it closes). ``GET /stats?run=R`` returns them
as JSON; the stats requests themselves count nowhere.

``logrecv``: a slow receiver for ``logging.handlers.SocketHandler``: it
reads the stream of 4-byte-length-prefixed pickles in small recv chunks
with a pause after each (so the sender's sendall fills the socket and
waits), checks every record's message against ``log_message`` and, once
``--expect`` records came or the senders closed or ``--limit-s`` passed,
prints one line of JSON: the ids of the intact records in arrival order,
the problems (a record that is not a pickle, a message that does not
match, a length prefix that cannot be one), connections, bytes and seconds.
"""

from __future__ import annotations

import json
import os
import pickle
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
LOG_FILLER = 10_000  # characters of filler in every log message


def log_message(g: int, i: int, filler: int = LOG_FILLER) -> str:
    """The message goroutine ``g`` logs as its ``i``-th record: an id, then
    ``filler`` characters that depend on the id, so a record spliced from
    two others cannot pass for either. (Self-contained: the client test
    puts its source in the child's script.)"""
    letter = "abcdefghijklmnopqrstuvwxyz"[(g * 31 + i * 7) % 26]
    return f"g{g}-r{i}|{letter * filler}|end-g{g}-r{i}"


# -- the parent's side --------------------------------------------------------


class Backend:
    """This file run as ``kind`` in another process; ``port`` from its first line."""

    def __init__(self, kind: str, *args: Any, startup: float = 20.0) -> None:
        self.kind = kind
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "_backend.py"), kind] + [str(a) for a in args],
            stdout=subprocess.PIPE,
            stderr=self.err,
            text=True,
        )
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(startup):
                self.close()
                raise RuntimeError(f"backend {kind}: no port after {startup} s{self.stderr()}")
        line = self.proc.stdout.readline()
        try:
            self.port = int(line)
        except ValueError:
            self.close()
            raise RuntimeError(f"backend {kind}: first line {line!r} is not a port{self.stderr()}") from None

    def output(self, timeout: float) -> Any:
        """The JSON line the backend prints when it is done (logrecv)."""
        assert self.proc.stdout is not None
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise RuntimeError(f"backend {self.kind}: no summary after {timeout} s{self.stderr()}") from None
        lines = out.strip().splitlines()
        if self.proc.returncode != 0 or not lines:
            raise RuntimeError(f"backend {self.kind}: exit {self.proc.returncode}, output {out!r}{self.stderr()}")
        return json.loads(lines[-1])

    def get(self, path: str) -> Any:
        """GET ``path`` from the http backend (unpatched urllib, in the test process)."""
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return json.loads(r.read())

    def stderr(self) -> str:
        self.err.seek(0)
        text = self.err.read().decode(errors="replace").strip()
        return f"; its stderr:\n{text}" if text else ""

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.err.close()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- http ------------------------------------------------------------------------


def serve_http(delay: float) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit

    lock = threading.Lock()
    stats: dict[str, dict[str, int]] = {}
    open_conns: dict[str, int] = {}
    inflight: dict[str, int] = {}

    def run_stats(run: str) -> dict[str, int]:
        return stats.setdefault(run, {"requests": 0, "max_inflight": 0, "max_connections": 0})

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the clients' pools reuse connections
        # Headers and body go out in two writes; with Nagle on, the body
        # waits for the client's delayed ACK (40 ms a request on Linux).
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            self.runs: set[str] = set()

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            run = q.get("run", "")
            if url.path == "/stats":
                with lock:
                    body = json.dumps(run_stats(run)).encode()
                return self._answer(body, "application/json")
            if url.path != "/work":
                return self.send_error(404)
            with lock:
                s = run_stats(run)
                if run not in self.runs:
                    self.runs.add(run)
                    open_conns[run] = open_conns.get(run, 0) + 1
                    s["max_connections"] = max(s["max_connections"], open_conns[run])
                inflight[run] = inflight.get(run, 0) + 1
                s["max_inflight"] = max(s["max_inflight"], inflight[run])
            # Out of flight before the answer is written: the client may
            # send its next request the moment the answer arrives, before
            # this thread runs again, and a count taken after the write
            # would then see both at once (a cap of 2 read as 3).
            try:
                time.sleep(delay)
            finally:
                with lock:
                    inflight[run] -= 1
                    s["requests"] += 1
            self._answer(f"{run}:{q.get('i', '')}".encode(), "text/plain")

        def _answer(self, body: bytes, ctype: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def finish(self) -> None:
            try:
                super().finish()
            finally:
                with lock:
                    for run in self.runs:
                        open_conns[run] -= 1

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024

    with Server(("127.0.0.1", 0), Handler) as srv:
        print(srv.server_address[1], flush=True)
        srv.serve_forever()


# -- logrecv ---------------------------------------------------------------------


class _Stream:
    """One sender's connection: its bytes so far, parsed into records."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buf = bytearray()
        self.broken = False  # a problem was found: the rest cannot be framed


def serve_logrecv(expect: int, chunk: int, pause: float, rcvbuf: int, limit: float) -> None:
    lsock = socket.socket()
    # Small, so that the sender's window stays small and its sendall waits
    # (accepted sockets inherit it).
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    lsock.setblocking(False)
    print(lsock.getsockname()[1], flush=True)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    intact: list[str] = []
    problems: list[str] = []
    nbytes = 0
    conns = 0
    live = 0
    t0: float | None = None
    started = time.monotonic()
    deadline = started + limit

    def parse(st: _Stream) -> None:
        while not st.broken and len(st.buf) >= 4:
            (n,) = struct.unpack(">L", st.buf[:4])
            if n > 10 * LOG_FILLER:
                problems.append(f"length prefix {n} after {len(intact)} records: the stream is garbled")
                st.broken = True
                return
            if len(st.buf) < 4 + n:
                return
            data = bytes(st.buf[4 : 4 + n])
            del st.buf[: 4 + n]
            try:
                record = pickle.loads(data)
                msg = record["msg"]
                tag = msg.split("|", 1)[0]
                g, i = (int(x) for x in tag[1:].split("-r"))
            except Exception as e:  # noqa: BLE001 - every failure is a finding here
                problems.append(
                    f"record {len(intact) + len(problems)} does not unpickle to a log record "
                    f"({type(e).__name__}: {e}): the stream is garbled from there on"
                )
                st.broken = True
                return
            if msg != log_message(g, i):
                problems.append(f"record {tag}: message does not match (length {len(msg)})")
            else:
                intact.append(tag)

    while len(intact) + len(problems) < expect and time.monotonic() < deadline:
        if conns and not live:
            break  # every sender closed
        for key, _ in sel.select(min(0.5, max(0.0, deadline - time.monotonic()))):
            if key.fileobj is lsock:
                try:
                    conn, _ = lsock.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                conns += 1
                live += 1
                t0 = t0 or time.monotonic()
                sel.register(conn, selectors.EVENT_READ, _Stream(conn))
                continue
            st: _Stream = key.data
            try:
                data = st.conn.recv(chunk)
            except BlockingIOError:
                continue
            if not data or st.broken:
                if not data:
                    sel.unregister(st.conn)
                    st.conn.close()
                    live -= 1
                continue
            nbytes += len(data)
            st.buf += data
            parse(st)
            time.sleep(pause)  # slow: the sender's buffers fill and its sendall waits
    print(
        json.dumps(
            {
                "intact": intact,
                "problems": problems[:20],
                "n_problems": len(problems),
                "connections": conns,
                "bytes": nbytes,
                "seconds": time.monotonic() - (t0 or started),
            }
        ),
        flush=True,
    )


def main(argv: list[str]) -> None:
    import argparse

    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="kind", required=True)
    h = sub.add_parser("http")
    h.add_argument("--delay-ms", type=float, default=100.0)
    lr = sub.add_parser("logrecv")
    lr.add_argument("--expect", type=int, required=True)
    lr.add_argument("--chunk", type=int, default=4096)
    lr.add_argument("--pause-ms", type=float, default=0.2)
    lr.add_argument("--rcvbuf", type=int, default=32768)
    lr.add_argument("--limit-s", type=float, default=30.0)
    args = p.parse_args(argv)
    if args.kind == "http":
        serve_http(args.delay_ms / 1000)
    else:
        serve_logrecv(args.expect, args.chunk, args.pause_ms / 1000, args.rcvbuf, args.limit_s)


if __name__ == "__main__":
    main(sys.argv[1:])
