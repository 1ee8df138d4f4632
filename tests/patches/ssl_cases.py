"""TLS cases run the same way patched and unpatched (child side).

Each case is a plain function using the ssl module as any program would;
it returns a value or raises. ``run_all()`` gives every case's outcome
(``child.outcome``): the tests run the cases unpatched, then patched inside
a goroutine, in a plain thread and before ``run()``, and compare type,
message, errno and ``__context__``. Most peers are passive (the other end
of a socketpair that says nothing); a peer that must speak TLS runs in a
plain thread, where the patched calls are the originals.

Certificates come from trustme, made once by the test (files named by the
CA and CHAIN variables) or else here. Timeouts are short (80 ms) so that a
whole run stays near a second and a half.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import child

_cases = child.Cases()
case = _cases.case
CASES = _cases.fns
run_all = _cases.run_all

SERVER = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
CLIENT = ssl.create_default_context()
if "CA" in os.environ:  # made once by the test, for every child
    SERVER.load_cert_chain(os.environ["CHAIN"])
    CLIENT.load_verify_locations(os.environ["CA"])
else:
    import trustme

    _ca = trustme.CA()
    _ca.issue_cert("localhost", "127.0.0.1").configure_cert(SERVER)
    _ca.configure_trust(CLIENT)
T = 0.08  # the timeouts the cases wait for
BIG = b"x" * (8 << 20)  # more than a socketpair and OpenSSL buffer


class Peer:
    """A plain thread that runs ``fn(sock)`` on the other end."""

    def __init__(self, sock: socket.socket, fn: Callable[[socket.socket], Any]) -> None:
        self.result: Any = None
        self.thread = threading.Thread(target=self._run, args=(sock, fn), daemon=True)
        self.thread.start()

    def _run(self, sock: socket.socket, fn: Callable[[socket.socket], Any]) -> None:
        try:
            self.result = fn(sock)
        except BaseException as e:  # noqa: BLE001 - reported to the case
            self.result = e

    def join(self) -> Any:
        self.thread.join(10)
        return self.result


@contextlib.contextmanager
def tls_pair(**client_kwargs: Any) -> Iterator[tuple[ssl.SSLSocket, ssl.SSLSocket]]:
    """A connected TLS pair over a socketpair: (client, server), handshaken.
    The server side handshakes in a plain thread."""
    a, b = socket.socketpair()
    with a, b:
        peer = Peer(b, lambda s: SERVER.wrap_socket(s, server_side=True))
        c = CLIENT.wrap_socket(a, server_hostname="localhost", **client_kwargs)
        s = peer.join()
        if isinstance(s, BaseException):
            raise s
        with c, s:
            yield c, s


def _timed(fn: Callable[[], Any]) -> tuple[Any, bool]:
    """fn's outcome, and whether it took about T (not much less)."""
    t0 = time.monotonic()
    got = child.outcome(fn)
    return got, time.monotonic() - t0 >= T * 0.8


# Handshakes.


@case
def handshake_timeout_client() -> Any:
    a, b = socket.socketpair()
    with a, b:
        a.settimeout(T)
        return _timed(lambda: CLIENT.wrap_socket(a, server_hostname="localhost"))


@case
def handshake_timeout_server() -> Any:
    a, b = socket.socketpair()
    with a, b:
        a.settimeout(T)
        return _timed(lambda: SERVER.wrap_socket(a, server_side=True))


@case
def handshake_timeout_explicit() -> Any:
    a, b = socket.socketpair()
    with a, b:
        a.settimeout(T)
        c = CLIENT.wrap_socket(a, server_hostname="localhost", do_handshake_on_connect=False)
        with c:
            return _timed(c.do_handshake)


@case
def handshake_timeout_tcp_connect() -> Any:
    # connect() then the handshake, to a server that accepts and says nothing.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        c = CLIENT.wrap_socket(socket.socket(), server_hostname="localhost")
        with c:
            c.settimeout(T)
            return _timed(lambda: c.connect(listener.getsockname()))


@case
def handshake_peer_closes() -> Any:
    a, b = socket.socketpair()
    with a, b:
        peer = Peer(b, lambda s: (s.recv(65536), s.close()))
        got = child.outcome(lambda: CLIENT.wrap_socket(a, server_hostname="localhost"))
        peer.join()
        return got


@case
def handshake_peer_closes_with_timeout() -> Any:
    a, b = socket.socketpair()
    with a, b:
        a.settimeout(5.0)
        peer = Peer(b, lambda s: (s.recv(65536), s.close()))
        got = child.outcome(lambda: CLIENT.wrap_socket(a, server_hostname="localhost"))
        peer.join()
        return got


@case
def handshake_server_client_closes() -> Any:
    a, b = socket.socketpair()
    with a, b:
        peer = Peer(b, lambda s: (time.sleep(0.05), s.close()))
        got = child.outcome(lambda: SERVER.wrap_socket(a, server_side=True))
        peer.join()
        return got


@case
def handshake_peer_speaks_http() -> Any:
    a, b = socket.socketpair()
    with a, b:
        peer = Peer(b, lambda s: (s.recv(65536), s.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n"), s.close()))
        got = child.outcome(lambda: CLIENT.wrap_socket(a, server_hostname="localhost"))
        peer.join()
        return got


@case
def handshake_wrong_host() -> Any:
    a, b = socket.socketpair()
    with a, b:
        peer = Peer(b, lambda s: child.outcome(lambda: SERVER.wrap_socket(s, server_side=True))[:2])
        got = child.outcome(lambda: CLIENT.wrap_socket(a, server_hostname="example.org"))
        a.close()
        return got, peer.join()


@case
def handshake_nonblocking() -> Any:
    a, b = socket.socketpair()
    with a, b:
        c = CLIENT.wrap_socket(a, server_hostname="localhost", do_handshake_on_connect=False)
        with c:
            c.setblocking(False)
            first = child.outcome(c.do_handshake)
            peer = Peer(b, lambda s: SERVER.wrap_socket(s, server_side=True).version())
            # block=True: the original clears the timeout for the handshake.
            second = child.outcome(lambda: c.do_handshake(block=True))
            return first, second, c.gettimeout(), peer.join()


@case
def handshake_on_connect_nonblocking() -> Any:
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        return child.outcome(lambda: CLIENT.wrap_socket(a, server_hostname="localhost"))


@case
def handshake_ok_blocking() -> Any:
    with tls_pair() as (c, s):
        return c.version() is not None, s.version() is not None, c.gettimeout(), s.gettimeout()


@case
def handshake_ok_with_timeout() -> Any:
    a, b = socket.socketpair()
    with a, b:
        a.settimeout(5.0)
        peer = Peer(b, lambda s: (time.sleep(0.05), SERVER.wrap_socket(s, server_side=True)))
        with CLIENT.wrap_socket(a, server_hostname="localhost") as c:
            peer.join()
            return c.gettimeout(), c.getpeercert()["subjectAltName"]


# Reads.


@case
def read_timeout() -> Any:
    with tls_pair() as (c, s):
        c.settimeout(T)
        return _timed(lambda: c.recv(10)), c.gettimeout()


@case
def read_timeout_read() -> Any:
    with tls_pair() as (c, s):
        c.settimeout(T)
        return _timed(lambda: c.read(10))


@case
def read_timeout_recv_into() -> Any:
    with tls_pair() as (c, s):
        s.settimeout(T)
        buf = bytearray(10)
        return _timed(lambda: s.recv_into(buf))


@case
def read_timeout_makefile() -> Any:
    with tls_pair() as (c, s):
        c.settimeout(T)
        s.sendall(b"no newline")
        with c.makefile("rb") as f:
            return _timed(f.readline)


@case
def read_waits_for_data() -> Any:
    with tls_pair() as (c, s):
        peer = Peer(s, lambda s: (time.sleep(0.1), s.sendall(b"late")))
        got = c.recv(10)
        peer.join()
        return got


@case
def read_waits_for_data_with_timeout() -> Any:
    with tls_pair() as (c, s):
        c.settimeout(5.0)
        peer = Peer(s, lambda s: (time.sleep(0.1), s.sendall(b"late" * 10000)))
        got = b""
        while len(got) < 40000:
            got += c.recv(65536)
        peer.join()
        return len(got), c.gettimeout()


@case
def read_into_buffer() -> Any:
    with tls_pair() as (c, s):
        s.sendall(b"hello")
        buf = bytearray(10)
        n = c.recv_into(buf)
        return n, bytes(buf)


@case
def read_nonblocking() -> Any:
    with tls_pair() as (c, s):
        c.setblocking(False)
        return child.outcome(lambda: c.recv(10)), child.outcome(lambda: c.read(10))


@case
def read_ragged_eof_suppressed() -> Any:
    with tls_pair() as (c, s):
        peer = Peer(s, lambda s: (time.sleep(0.05), s.detach()))
        fd = peer.join()[1]
        socket.socket(fileno=fd).close()  # no close_notify
        return child.outcome(lambda: c.recv(10)), child.outcome(lambda: c.recv(10))


@case
def read_ragged_eof_raised() -> Any:
    with tls_pair(suppress_ragged_eofs=False) as (c, s):
        peer = Peer(s, lambda s: (time.sleep(0.05), s.detach()))
        fd = peer.join()[1]
        socket.socket(fileno=fd).close()
        return child.outcome(lambda: c.recv(10))


@case
def read_after_close_notify() -> Any:
    with tls_pair(suppress_ragged_eofs=False) as (c, s):
        peer = Peer(s, lambda s: child.outcome(s.unwrap)[0])
        first = child.outcome(lambda: c.recv(10))
        second = child.outcome(lambda: c.recv(10))
        unwrapped = child.outcome(lambda: type(c.unwrap()).__name__)
        return first, second, unwrapped, peer.join()


@case
def read_closed() -> Any:
    with tls_pair() as (c, s):
        c.close()
        return child.outcome(lambda: c.recv(10)), child.outcome(lambda: c.read(10)), child.outcome(c.do_handshake)


# Writes.


@case
def write_timeout_sendall() -> Any:
    with tls_pair() as (c, s):
        c.settimeout(T)
        return _timed(lambda: c.sendall(BIG))


@case
def write_timeout_send() -> Any:
    with tls_pair() as (c, s):
        c.settimeout(T)
        return _timed(lambda: c.send(BIG))


@case
def write_timeout_write() -> Any:
    with tls_pair() as (c, s):
        s.settimeout(T)
        return _timed(lambda: s.write(BIG))


@case
def write_big_to_reader() -> Any:
    with tls_pair() as (c, s):

        def drain(s: socket.socket) -> int:
            n = 0
            while n < len(BIG):
                n += len(s.recv(1 << 16))
            return n

        peer = Peer(s, drain)
        c.sendall(BIG)
        sent = c.send(b"tail")
        return peer.join(), sent


@case
def write_big_to_reader_with_timeout() -> Any:
    with tls_pair() as (c, s):

        def drain(s: socket.socket) -> int:
            n = 0
            time.sleep(0.02)
            while n < len(BIG):
                n += len(s.recv(1 << 16))
            return n

        c.settimeout(5.0)
        peer = Peer(s, drain)
        c.sendall(memoryview(BIG))
        return peer.join()


@case
def write_nonblocking() -> Any:
    with tls_pair() as (c, s):
        c.setblocking(False)
        sent = 0
        got: Any = None
        for _ in range(10000):
            try:
                sent += c.send(b"y" * 65536)
            except ssl.SSLWantWriteError as e:
                got = ["raise", type(e).__name__, str(e), e.errno]
                break
        return got, sent > 0


@case
def write_errors() -> Any:
    with tls_pair() as (c, s):
        flags = child.outcome(lambda: c.send(b"x", 1))
        c.close()
        closed = child.outcome(lambda: c.sendall(b"x")), child.outcome(lambda: c.write(b"x"))
        return flags, closed


@case
def write_sendfile() -> Any:
    import tempfile

    with tls_pair() as (c, s), tempfile.TemporaryFile() as f:
        f.write(b"z" * 300000)
        f.seek(0)

        def drain(s: socket.socket) -> int:
            n = 0
            while n < 300000:
                n += len(s.recv(1 << 16))
            return n

        peer = Peer(s, drain)
        sent = c.sendfile(f)
        return sent, peer.join()


# Shutdown.


@case
def unwrap_timeout() -> Any:
    with tls_pair() as (c, s):
        c.settimeout(T)
        return _timed(c.unwrap)


@case
def unwrap_both() -> Any:
    with tls_pair() as (c, s):
        peer = Peer(s, lambda s: type(s.unwrap()).__name__)
        got = child.outcome(lambda: type(c.unwrap()).__name__)
        # Plain sockets again: the socket area's calls.
        s_name = peer.join()
        again = child.outcome(c.unwrap)
        return got, s_name, again[:2], again[2].startswith("No SSL wrapper around <ssl.SSLSocket fd=")


@case
def unwrap_then_plain_io() -> Any:
    a, b = socket.socketpair()
    with a, b:
        peer = Peer(b, lambda s: SERVER.wrap_socket(s, server_side=True))
        c = CLIENT.wrap_socket(a, server_hostname="localhost")
        s = peer.join()
        peer = Peer(s, lambda s: s.unwrap())
        plain = c.unwrap()
        raw = peer.join()
        peer = Peer(raw, lambda s: (time.sleep(0.05), s.sendall(b"plain")))
        got = plain.recv(10)
        peer.join()
        plain.settimeout(T)
        return got, _timed(lambda: plain.recv(10))


@case
def unwrap_nonblocking() -> Any:
    with tls_pair() as (c, s):
        c.setblocking(False)
        return child.outcome(c.unwrap)


@case
def unwrap_peer_gone() -> Any:
    with tls_pair() as (c, s):
        peer = Peer(s, lambda s: (time.sleep(0.05), s.detach()))
        socket.socket(fileno=peer.join()[1]).close()
        return child.outcome(c.unwrap)


# TCP, client and server both made by the stdlib's helpers.


@case
def tcp_request_response() -> Any:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        tls_listener = SERVER.wrap_socket(listener, server_side=True)

        def serve(ls: Any) -> Any:
            conn, _ = ls.accept()
            with conn:
                line = conn.makefile("rb").readline()
                conn.sendall(line.upper())
                return conn.version() is not None

        peer = Peer(tls_listener, serve)
        with socket.create_connection(tls_listener.getsockname()) as raw:
            with CLIENT.wrap_socket(raw, server_hostname="localhost") as c:
                c.sendall(b"hello\n")
                got = c.recv(100)
        return got, peer.join()


@case
def tcp_accept_handshake_in_case() -> Any:
    # The server side runs here (accept, then the handshake accept makes).
    with SERVER.wrap_socket(socket.create_server(("127.0.0.1", 0)), server_side=True) as ls:
        ls.settimeout(5.0)
        address = ls.getsockname()

        def client(_: Any) -> Any:
            with CLIENT.wrap_socket(socket.create_connection(address), server_hostname="localhost") as c:
                c.sendall(b"ping")
                return c.recv(10)

        peer = Peer(ls, client)
        conn, _ = ls.accept()
        with conn:
            got = conn.recv(10)
            conn.sendall(got.upper())
            return got, peer.join(), conn.gettimeout()


@case
def get_server_certificate() -> Any:
    with SERVER.wrap_socket(socket.create_server(("127.0.0.1", 0)), server_side=True) as ls:
        address = ls.getsockname()
        peer = Peer(ls, lambda ls: ls.accept()[0].close())
        pem = ssl.get_server_certificate(address)
        peer.join()
        return pem.startswith("-----BEGIN CERTIFICATE-----")
