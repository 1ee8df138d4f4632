"""Name resolution under the patch layer: the originals' answers and errors,
from the thread pool when a goroutine asks (never from the network: only
localhost and numeric addresses)."""

from __future__ import annotations

from .conftest import run_child

CASES = """
import child; child.start()
import socket, sys, traceback
def failed_call(fn, arg):
    # While the exception is handled, its traceback holds the caller's
    # frames and no reference to the argument (CPython's
    # testRefCountGetNameInfo), and no frame of the pool's machinery.
    before = sys.getrefcount(arg)
    try:
        fn(arg)
    except Exception as e:
        frames = traceback.extract_tb(e.__traceback__)
        pool = [
            f.name for f in frames
            if "concurrent" in f.filename or "threading" in f.filename
            or (f.filename.endswith("_syscall.py") and f.name != "blocking_call")
        ]
        return type(e).__name__, sys.getrefcount(arg) - before, pool
    return "returned"
def cases():
    return {
        "getaddrinfo_localhost": child.outcome(lambda: sorted(socket.getaddrinfo("localhost", 80, socket.AF_INET, socket.SOCK_STREAM))),
        "getaddrinfo_numeric": child.outcome(lambda: socket.getaddrinfo("127.0.0.1", "80", proto=socket.IPPROTO_TCP)),
        "getaddrinfo_none": child.outcome(lambda: socket.getaddrinfo(None, 80, socket.AF_INET, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)),
        "getaddrinfo_keywords": child.outcome(lambda: socket.getaddrinfo(host="127.0.0.1", port=80, family=socket.AF_INET, type=socket.SOCK_DGRAM)),
        "getaddrinfo_bad_service": child.outcome(lambda: socket.getaddrinfo("127.0.0.1", "no-such-service-offset")),
        "getaddrinfo_bad_args": child.outcome(lambda: socket.getaddrinfo()),
        "getaddrinfo_bad_port": child.outcome(lambda: socket.getaddrinfo("127.0.0.1", 1.5)),
        "gethostbyname": child.outcome(lambda: socket.gethostbyname("localhost")),
        "gethostbyname_numeric": child.outcome(lambda: socket.gethostbyname("127.0.0.1")),
        "gethostbyname_ex": child.outcome(lambda: socket.gethostbyname_ex("localhost")[2]),
        "gethostbyaddr": child.outcome(lambda: socket.gethostbyaddr("127.0.0.1")[2]),
        "gethostbyaddr_bad": child.outcome(lambda: socket.gethostbyaddr(5)),
        "getnameinfo": child.outcome(lambda: socket.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)),
        "getnameinfo_bad": child.outcome(lambda: socket.getnameinfo(("127.0.0.1",), 0)),
        "getnameinfo_not_a_tuple": failed_call(lambda a: socket.getnameinfo(a, 0), "x" * 3),
        "getnameinfo_bad_tuple": failed_call(lambda a: socket.getnameinfo(a, 0), ("127.0.0.1", "x" * 3)),
        "gethostbyaddr_not_a_host": failed_call(socket.gethostbyaddr, 5.5),
        "getaddrinfo_bad_service_refs": failed_call(lambda a: socket.getaddrinfo("localhost", a), "no-such-service-" + "offset"),
    }
if MODE == "patched":
    import offset
    from offset._core import _syscall
    offset.patch_all()
    def main():
        return cases(), _syscall._pool is not None
    result, named_on_pool = offset.run(main)
    child.report({"cases": result, "named_on_pool": named_on_pool})
else:
    child.report({"cases": cases()})
"""


def test_resolver_answers_and_errors_match_unpatched() -> None:
    plain = run_child("MODE = 'plain'\n" + CASES)["cases"]
    patched = run_child("MODE = 'patched'\n" + CASES)
    assert {k: (patched["cases"][k], plain[k]) for k in plain if patched["cases"][k] != plain[k]} == {}
    assert plain["gethostbyname"] == ["ok", "'127.0.0.1'"]
    assert plain["getaddrinfo_bad_service"][1] == "gaierror"
    assert patched["named_on_pool"] is True  # "localhost" was looked up on the pool


NUMERIC_INLINE = """
import child; child.start()
import offset; offset.patch_all()
import socket
from offset._core import _syscall
def main():
    socket.getaddrinfo("127.0.0.1", 80)
    socket.getaddrinfo("::1", 80)
    socket.gethostbyname("127.0.0.1")
    before = _syscall._pool is None
    socket.getaddrinfo("localhost", 80)
    return before, _syscall._pool is not None
child.report(offset.run(main))
"""


def test_numeric_hosts_are_answered_in_place_names_on_the_pool() -> None:
    assert run_child(NUMERIC_INLINE) == [True, True]
