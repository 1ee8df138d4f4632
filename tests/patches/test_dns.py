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
import offset.patches.dns as area
pool = child.count_pool_calls(area)  # the resolver's own trips to the pool
def main():
    socket.getaddrinfo("127.0.0.1", 80)
    socket.getaddrinfo("::1", 80)
    socket.gethostbyname("127.0.0.1")
    numeric = pool[0]
    socket.getaddrinfo("localhost", 80)
    return numeric == 0, pool[0] == 1
child.report(offset.run(main))
"""


def test_numeric_hosts_are_answered_in_place_names_on_the_pool() -> None:
    assert run_child(NUMERIC_INLINE) == [True, True]


# The one numeric-host check (offset/patches/_hostname.py), through both
# areas that use it: what getaddrinfo and gethostbyname answer, and what
# socket methods that resolve an address's host (connect_ex, sendto, bind)
# do, patched in a goroutine against unpatched. Hosts needing a lookup are
# only under .invalid (RFC 6761: never resolved) or localhost.
HOSTS = """
import child; child.start()
import socket
HOSTS = {
    "ascii_name": "localhost",
    "ipv4": "127.0.0.1",
    "ipv4_bytes": b"127.0.0.1",
    "ipv4_bytearray": bytearray(b"127.0.0.1"),
    "ipv4_short": "127.1",
    "ipv6": "::1",
    "ipv6_bytes": b"::1",
    "ipv6_scoped": "::1%lo",
    "ipv6_link_local_scoped": "fe80::1%lo",
    "ipv6_scoped_bytes": b"fe80::1%lo",
    "non_ascii_str": "\\u00f1.invalid",
    "non_ascii_bytes": b"\\xc3\\xb1.invalid",
    "non_ascii_bytes_digits": b"127.0.0.1\\xff",
    "fullwidth_digits": "\\uff11\\uff12\\uff17.\\uff10.\\uff10.\\uff11",
    "surrogate": "\\udcff",
    "nul_str": "127.0.0.1\\x00x",
    "nul_bytes": b"127.0.0.1\\x00x",
    "empty": "",
    "broadcast": "<broadcast>",
    "long_label": "a" * 70,
    "not_a_host": 5,
}
# Answered in place, patched: the C code makes no lookup for these.
LITERAL_GAI = {"ipv4", "ipv4_bytes", "ipv4_bytearray", "ipv6", "ipv6_bytes", "fullwidth_digits"}
LITERAL_GHBN = {"ipv4", "ipv4_bytes", "ipv4_bytearray", "fullwidth_digits", "empty", "broadcast"}
LOOKUP = {"ascii_name", "non_ascii_str", "non_ascii_bytes", "non_ascii_bytes_digits"}

def shown(name, result):
    # A lookup's gaierror may say "not known" or "temporary failure" from
    # one run to the next: its type is what counts.
    if name in LOOKUP and result[0] == "raise" and result[1] == "gaierror":
        return ["raise", "gaierror"]
    return result

def cases(pool_calls):
    out = {}
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    port = receiver.getsockname()[1]
    for name, host in HOSTS.items():
        row = {}
        for call, fn in [
            ("getaddrinfo", lambda: sorted(socket.getaddrinfo(host, 80, type=socket.SOCK_DGRAM))),
            ("gethostbyname", lambda: socket.gethostbyname(host)),
        ]:
            before = pool_calls[0]
            row[call] = shown(name, child.outcome(fn))
            row[call + "_pool"] = pool_calls[0] - before
        for family in (socket.AF_INET, socket.AF_INET6):
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                row[f"sendto_{family.name}"] = shown(name, child.outcome(lambda: s.sendto(b"x", (host, port))))
                row[f"connect_ex_{family.name}"] = shown(name, child.outcome(lambda: s.connect_ex((host, port))))
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                row[f"bind_{family.name}"] = shown(name, child.outcome(lambda: s.bind((host, 0))))
        out[name] = row
    receiver.close()
    return out

if MODE == "patched":
    import offset
    from offset.patches import dns as dns_area, socket as socket_area
    pool_calls = child.count_pool_calls(dns_area, socket_area)
    offset.patch_all()
    child.report({"cases": offset.run(cases, pool_calls), "LITERAL_GAI": sorted(LITERAL_GAI), "LITERAL_GHBN": sorted(LITERAL_GHBN)})
else:
    child.report({"cases": cases([0])})
"""


def test_numeric_hosts_give_the_stdlib_answers_on_both_paths() -> None:
    plain = run_child("MODE = 'plain'\n" + HOSTS)["cases"]
    patched = run_child("MODE = 'patched'\n" + HOSTS)
    got = patched["cases"]
    literal_gai, literal_ghbn = set(patched["LITERAL_GAI"]), set(patched["LITERAL_GHBN"])
    pools = {}
    for name, row in got.items():
        pools[name] = (row.pop("getaddrinfo_pool"), row.pop("gethostbyname_pool"))
        del plain[name]["getaddrinfo_pool"], plain[name]["gethostbyname_pool"]
    assert {k: {c: (got[k][c], v) for c, v in plain[k].items() if got[k][c] != v} for k in plain} == dict.fromkeys(
        plain, {}
    )
    # In place exactly where the C code makes no lookup; the pool otherwise.
    assert pools == {name: (int(name not in literal_gai), int(name not in literal_ghbn)) for name in pools}
    # The stdlib's own answers, for the record of what the check decides.
    assert plain["fullwidth_digits"]["gethostbyname"] == ["ok", "'127.0.0.1'"]
    assert plain["nul_str"]["getaddrinfo"][0] == "ok"  # the C library sees "127.0.0.1"
    assert plain["surrogate"]["getaddrinfo"][1] in ("UnicodeError", "UnicodeEncodeError")  # the latter from 3.13
    assert plain["ipv6_link_local_scoped"]["getaddrinfo"][0] == "ok"
