"""Socket cases run the same way patched and unpatched (child side).

Each case is a plain function using the socket module as any program
would; it returns a value or raises. ``run_all()`` gives every case's
outcome (``child.outcome``): the tests run the cases unpatched, then
patched inside a goroutine, in a plain thread and before ``run()``, and
compare. Peers are passive (a socketpair's other end, a listener that
never accepts), so the unpatched run needs no server thread.

Timeouts are short (50-200 ms) so that a whole run stays near a second.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import tempfile
import threading
from typing import Any

import child

_cases = child.Cases()
case = _cases.case
CASES = _cases.fns
run_all = _cases.run_all
pair = child.pair
tcp_pair = child.tcp_pair
closed_port = child.closed_port
full_listener = child.full_listener


def state(s: socket.socket) -> tuple[Any, ...]:
    """What a program can see of a socket's blocking mode, kernel flag included."""
    return (s.gettimeout(), s.getblocking(), os.get_blocking(s.fileno()))


# -- recv --------------------------------------------------------------------


@case
def recv_data() -> Any:
    with pair() as (a, b):
        b.sendall(b"hello")
        return a.recv(10), state(a)


@case
def recv_eof() -> Any:
    with pair() as (a, b):
        b.shutdown(socket.SHUT_WR)
        return a.recv(10)


@case
def recv_timeout() -> Any:
    with pair() as (a, _):
        a.settimeout(0.05)
        return child.outcome(lambda: a.recv(10)), state(a)


@case
def recv_nonblocking() -> Any:
    with pair() as (a, _):
        a.setblocking(False)
        return child.outcome(lambda: a.recv(10)), state(a)


@case
def recv_peek_then_read() -> Any:
    with pair() as (a, b):
        b.sendall(b"abc")
        return a.recv(10, socket.MSG_PEEK), a.recv(10), state(a)


@case
def recv_flags_dontwait_on_blocking_socket() -> Any:
    with pair() as (a, _):
        return child.outcome(lambda: a.recv(10, socket.MSG_DONTWAIT)), state(a)


@case
def recv_bad_args() -> Any:
    with pair() as (a, _):
        return [
            child.outcome(lambda: a.recv(-1)),
            child.outcome(lambda: a.recv("x")),  # type: ignore[arg-type]
            child.outcome(lambda: a.recv(1, 2, 3)),  # type: ignore[call-arg]
            child.outcome(lambda: a.recv(bufsize=1)),  # type: ignore[call-arg]
            child.outcome(lambda: a.recv()),  # type: ignore[call-arg]
            child.outcome(lambda: a.recv(1, "x")),  # type: ignore[arg-type]
        ]


@case
def recv_into_and_friends() -> Any:
    with pair() as (a, b):
        b.sendall(b"0123456789")
        buf = bytearray(4)
        n1 = a.recv_into(buf)
        view = memoryview(bytearray(10))
        n2 = a.recv_into(view, 3)
        b.sendall(b"xyz")
        data, addr = a.recvfrom(2)
        buf2 = bytearray(8)
        n3, addr2 = a.recvfrom_into(buf2)
        return n1, bytes(buf), n2, bytes(view[:n2]), data, addr, n3, bytes(buf2[:n3]), addr2


@case
def recv_into_bad_args() -> Any:
    with pair() as (a, _):
        return [
            child.outcome(lambda: a.recv_into(bytearray(1), 5)),
            child.outcome(lambda: a.recv_into(b"immutable")),  # type: ignore[arg-type]
            child.outcome(lambda: a.recv_into(bytearray(1), -1)),
            child.outcome(lambda: a.recv_into(buffer=bytearray(1), flags="x")),  # type: ignore[arg-type]
        ]


@case
def recvmsg_sendmsg() -> Any:
    with pair() as (a, b):
        b.sendmsg([b"ab", b"cd"])
        msg = a.recvmsg(10)
        b.sendmsg([b"ef"], [], 0)
        buf = bytearray(5)
        into = a.recvmsg_into([buf])
        return msg, into, bytes(buf)


@case
def recvmsg_into_and_sendmsg_read_iterables_once() -> Any:
    # Their buffers (and sendmsg's ancillary data) may be any iterable,
    # read once (PySequence_Fast), so a call that has to wait must not read
    # it again (CPython test_socket testRecvmsgIntoGenerator). The other
    # end is served by a plain thread, after a wait.
    out = []
    with pair() as (a, b):
        a.settimeout(5.0)
        timer = threading.Timer(0.05, b.sendall, (b"abc",))
        timer.start()
        buf = bytearray(5)
        got = a.recvmsg_into(x for x in [buf])
        timer.join()
        out.append((got, bytes(buf)))
    with pair() as (a, b):
        a.setblocking(False)
        filled = 0
        try:
            while True:
                filled += a.send(b"x" * 65536)
        except BlockingIOError:
            pass
        a.settimeout(5.0)
        r, w = os.pipe()
        drained = []

        def drain() -> None:
            n = 0
            while n < filled:
                n += len(b.recv(min(1 << 20, filled - n)))  # not a byte of what follows
            drained.append(n)

        timer = threading.Timer(0.05, drain)
        timer.start()
        fds = [r]
        ancillary = ((socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(memoryview(_array_of(fds)))) for _ in [1])
        sent = a.sendmsg((x for x in [b"yz"]), ancillary)
        timer.join()
        b.settimeout(5.0)
        msg, anc, _flags, _addr = b.recvmsg(10, socket.CMSG_SPACE(4))
        for _level, _type, data in anc:
            os.close(int.from_bytes(data[:4], sys.byteorder))
        os.close(r)
        os.close(w)
        out.append((sent, drained == [filled], msg, len(anc)))
    return out


def _array_of(fds: list[int]) -> Any:
    import array

    return array.array("i", fds)


@case
def recv_on_closed_socket() -> Any:
    a, b = socket.socketpair()
    b.close()
    a.close()
    return child.outcome(lambda: a.recv(1))


@case
def recv_timeout_then_data() -> Any:
    with pair() as (a, b):
        a.settimeout(0.05)
        first = child.outcome(lambda: a.recv(1))
        b.sendall(b"x")
        return first, a.recv(1), state(a)


@case
def default_timeout() -> Any:
    socket.setdefaulttimeout(0.05)
    try:
        with pair() as (a, _):
            return child.outcome(lambda: a.recv(1)), state(a)
    finally:
        socket.setdefaulttimeout(None)


@case
def recv_through_signals() -> Any:
    # A signal handler runs while the call waits; no InterruptedError, and
    # the timeout still holds.
    hits = []
    previous = signal.signal(signal.SIGALRM, lambda *_: hits.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
        with pair() as (a, _):
            a.settimeout(0.15)
            result = child.outcome(lambda: a.recv(1))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, previous)
    return result, len(hits) > 0


# -- send --------------------------------------------------------------------


@case
def sendall_big_to_reader() -> Any:
    # More than the socket buffers hold: sendall must handle partial sends.
    with pair() as (a, b):
        payload = os.urandom(1 << 20)
        b.setblocking(False)
        got = bytearray()
        a.settimeout(5.0)
        chunks = [payload[i : i + 65536] for i in range(0, len(payload), 65536)]
        for chunk in chunks:
            a.sendall(chunk)
            while True:
                try:
                    got += b.recv(1 << 20)
                except BlockingIOError:
                    break
        return bytes(got) == payload, state(a)


@case
def sendall_timeout() -> Any:
    with pair() as (a, _):
        a.settimeout(0.1)
        return child.outcome(lambda: a.sendall(b"x" * (8 << 20))), state(a)


@case
def sendall_nonblocking() -> Any:
    with pair() as (a, _):
        a.setblocking(False)
        return child.outcome(lambda: a.sendall(b"x" * (8 << 20)))


@case
def send_bad_args() -> Any:
    with pair() as (a, _):
        return [
            child.outcome(lambda: a.sendall("str")),  # type: ignore[arg-type]
            child.outcome(lambda: a.send("str")),  # type: ignore[arg-type]
            child.outcome(lambda: a.sendall(b"x", "flags")),  # type: ignore[arg-type]
            child.outcome(lambda: a.sendall()),  # type: ignore[call-arg]
            child.outcome(lambda: a.sendall(b"x", data=b"y")),  # type: ignore[call-arg]
        ]


@case
def sendall_buffers() -> Any:
    import array

    with pair() as (a, b):
        a.sendall(bytearray(b"ab"))
        a.sendall(memoryview(b"cdef")[1:3])
        a.sendall(array.array("i", [1]))
        return b.recv(100)


@case
def send_to_closed_peer() -> Any:
    with pair() as (a, b):
        b.close()
        return child.outcome(lambda: a.sendall(b"x" * 100))


@case
def udp_sendto_hostname() -> Any:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as r, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        r.bind(("127.0.0.1", 0))
        port = r.getsockname()[1]
        s.sendto(b"one", ("localhost", port))
        s.sendto(b"two", 0, ("127.0.0.1", port))
        r.settimeout(5.0)
        one, addr = r.recvfrom(10)
        two, _ = r.recvfrom(10)
        r.settimeout(0.05)
        return one, two, addr[0], child.outcome(lambda: r.recvfrom(10))


# -- connect, accept ---------------------------------------------------------


@case
def connect_refused() -> Any:
    port = closed_port()
    with socket.socket() as s:
        return child.outcome(lambda: s.connect(("127.0.0.1", port))), state(s)


@case
def connect_refused_with_timeout() -> Any:
    port = closed_port()
    with socket.socket() as s:
        s.settimeout(1.0)
        return child.outcome(lambda: s.connect(("127.0.0.1", port))), state(s)


@case
def connect_ex_refused() -> Any:
    port = closed_port()
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port))


@case
def connect_timeout() -> Any:
    with full_listener() as address, socket.socket() as s:
        s.settimeout(0.1)
        return child.outcome(lambda: s.connect(address)), state(s)


@case
def connect_ex_timeout() -> Any:
    with full_listener() as address, socket.socket() as s:
        s.settimeout(0.1)
        return s.connect_ex(address)


@case
def connect_hostname_and_bad_address() -> Any:
    with socket.create_server(("127.0.0.1", 0)) as listener, socket.socket() as s, socket.socket() as t:
        port = listener.getsockname()[1]
        s.connect(("localhost", port))
        return [
            s.getpeername()[0],
            child.outcome(lambda: t.connect(("127.0.0.1", 70000))),
            child.outcome(lambda: t.connect("not a tuple")),  # type: ignore[arg-type]
            child.outcome(lambda: t.connect(("127.0.0.1",))),  # type: ignore[arg-type]
        ]


@case
def connect_nonblocking() -> Any:
    with socket.create_server(("127.0.0.1", 0)) as listener, socket.socket() as s:
        s.setblocking(False)
        r = child.outcome(lambda: s.connect(listener.getsockname()))
        return r[0], r[1], r[3]  # EINPROGRESS (or at once on loopback)


@case
def accept_timeout() -> Any:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.05)
        return child.outcome(lambda: listener.accept()), state(listener)


@case
def accept_nonblocking() -> Any:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        return child.outcome(lambda: listener.accept())


@case
def accept_modes() -> Any:
    # The accepted socket's mode follows the stdlib's rules (issue #7995).
    out = []
    for listener_timeout in (None, 0.5):
        with socket.create_server(("127.0.0.1", 0)) as listener:
            listener.settimeout(listener_timeout)
            with socket.create_connection(listener.getsockname()):
                conn, addr = listener.accept()
                with conn:
                    out.append((type(conn).__name__, state(conn), addr[0], state(listener)))
    return out


class _Str(str):
    pass


@case
def address_parsed_before_lookup() -> Any:
    # socketmodule.c parses the whole address (host by idna_converter,
    # port as a C int) before it asks the resolver, and sendto/sendmsg
    # parse their other arguments first: a bad argument raises its own
    # error, never the lookup's. No case here asks DNS: each host is
    # numeric, or fails before a lookup, or is one getaddrinfo refuses
    # without the network (an address of the other family).
    out = {}
    for family, other in ((socket.AF_INET, "::1"), (socket.AF_INET6, "127.0.0.1")):
        addresses = {
            "nul": ("a\0b", 80),
            "surrogate": ("\udcff", 80),
            "idna_too_long": ("\u00e7" * 70, 80),
            "str_subclass_idna_too_long": (_Str("a" * 70), 80),
            "other_family": (other, 80),
            "no_port": (other,),
            "port_str": (other, "80"),
            "port_float": (other, 1.5),
            "port_huge": (other, 2**40),
            "too_long": (other, 80, 0, 0, 0),
            "flowinfo_float": (other, 80, 1.5),
            "list": [other, 80],
            "host_none": (None, 80),
        }
        for name, address in addresses.items():
            with socket.socket(family) as t, socket.socket(family, socket.SOCK_DGRAM) as u:
                t.settimeout(1.0)
                out[f"{family}-{name}"] = [
                    child.outcome(lambda: t.bind(address)),  # type: ignore[arg-type]
                    child.outcome(lambda: t.connect(address)),  # type: ignore[arg-type]
                    child.outcome(lambda: t.connect_ex(address)),  # type: ignore[arg-type]
                    child.outcome(lambda: u.sendto(b"x", address)),  # type: ignore[arg-type]
                    child.outcome(lambda: u.sendmsg([b"x"], [], 0, address)),  # type: ignore[arg-type]
                ]
        with socket.socket(family, socket.SOCK_DGRAM) as u:
            address = (other, 80)
            out[f"{family}-arguments_first"] = [
                child.outcome(lambda: u.sendto("x", address)),  # type: ignore[call-overload]
                child.outcome(lambda: u.sendto(b"x", "0", address)),  # type: ignore[call-overload]
                child.outcome(lambda: u.sendto(b"x", 0, address, 1)),  # type: ignore[call-overload]
                child.outcome(lambda: u.sendmsg([b"x"], [], "0", address)),  # type: ignore[arg-type]
                child.outcome(lambda: u.sendmsg(5, [], 0, address)),  # type: ignore[arg-type]
            ]
    return out


@case
def bind_hostname() -> Any:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[0]


# -- built on the methods ----------------------------------------------------


@case
def makefile_lines_and_timeout() -> Any:
    with pair() as (a, b):
        b.sendall(b"line1\nline2\n")
        rf = a.makefile("rb")
        lines = [rf.readline(), rf.readline()]
        a.settimeout(0.05)
        first = child.outcome(rf.readline)
        second = child.outcome(rf.readline)
        rf.close()
        wf = b.makefile("w", encoding="utf-8")
        wf.write("text\n")
        wf.flush()
        wf.close()
        a.settimeout(1.0)
        return lines, first, second, a.recv(10)


@case
def create_connection_and_server() -> Any:
    with socket.create_server(("127.0.0.1", 0), backlog=5) as listener:
        port = listener.getsockname()[1]
        with socket.create_connection(("localhost", port), timeout=2.0) as c:
            s, _ = listener.accept()
            with s:
                c.sendall(b"ping")
                got = s.recv(10)
                return got, c.gettimeout(), s.gettimeout()


@case
def create_connection_refused() -> Any:
    return child.outcome(lambda: socket.create_connection(("127.0.0.1", closed_port()), timeout=1.0))


@case
def dup_fromfd_and_close_one() -> Any:
    with pair() as (a, b):
        d = a.dup()
        f = socket.fromfd(a.fileno(), a.family, a.type)
        b.sendall(b"12")
        x = d.recv(1)
        y = f.recv(1)
        d.close()
        f.close()
        b.sendall(b"3")
        return x, y, a.recv(1), state(a)


@case
def sendfile_whole_and_part() -> Any:
    with tempfile.TemporaryFile() as f, tcp_pair() as (c, s):
        data = os.urandom(300_000)
        f.write(data)
        f.seek(0)
        s.settimeout(5.0)
        got = bytearray()
        sent = 0
        # The receiver must read while the sender sends: both in this
        # goroutine would deadlock, so the sender gets a buffer that holds it all.
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 21)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        sent = c.sendfile(f, 1000, 200_000)
        while len(got) < sent:
            got += s.recv(1 << 20)
        return sent, bytes(got) == data[1000:201_000], f.tell()


@case
def sendfile_nonblocking() -> Any:
    with tempfile.TemporaryFile() as f, pair() as (a, _):
        f.write(b"x")
        f.seek(0)
        a.setblocking(False)
        return child.outcome(lambda: a.sendfile(f))


@case
def subclass() -> Any:
    class Mine(socket.socket):
        def recv(self, n: int, flags: int = 0) -> bytes:
            return super().recv(n, flags) + b"!"

    a, b = socket.socketpair()
    m = Mine(a.family, a.type, a.proto, fileno=a.detach())
    with m, b:
        b.sendall(b"hi")
        with m.dup() as d:
            return m.recv(10), type(d).__name__


# Cases that only work on the main thread (signal handlers).
MAIN_THREAD_ONLY = {"recv_through_signals"}
