"""The registry: every patch installed, recorded and removed through wrapt.

Identity on unpatch, no-op double patch and unpatch, selective patching,
deferred patching of modules imported later, and the warning for
references bound before patching. Each test in a fresh interpreter.
"""

from __future__ import annotations

from .conftest import run_child

IDENTITY = """
import child; child.start()
import socket, select, selectors, time
import offset
from offset.patches import _registry

def snapshot():
    out = {}
    for area in _registry._areas.values():
        for p in area.patches:
            module = __import__(p.module)
            owner = module
            *path, name = p.path.split(".")
            for part in path:
                owner = getattr(owner, part)
            # What the owner's namespace holds (MISSING: inherited from a
            # base class), and what a lookup finds.
            out[f"{p.module}.{p.path}"] = (owner.__dict__.get(name, MISSING), getattr(owner, name))
    return out

MISSING = object()

before = snapshot()
offset.patch_all()
patched = snapshot()
offset.patch_all()                    # a no-op: nothing is wrapped twice
again = snapshot()
offset.unpatch_all()
after = snapshot()
offset.unpatch_all()                  # a no-op too
after2 = snapshot()

child.report({
    "count": len(before),
    "all_replaced": [k for k in before if patched[k][0] is before[k][0]],
    "double_patch_same": all(again[k][0] is patched[k][0] for k in before),
    "restored": [k for k in before if after[k][0] is not before[k][0]],
    "restored_twice": all(after2[k][0] is before[k][0] for k in before),
    "lookups_restored": [k for k in before if after[k][1] != before[k][1]],
    "recv_in_class_dict": "recv" in vars(socket.socket),
    "names": sorted(before),
})
"""


def test_unpatch_restores_identity_and_double_patch_is_a_noop() -> None:
    r = run_child(IDENTITY)
    assert r["count"] >= 25
    assert r["all_replaced"] == []
    assert r["double_patch_same"] is True
    assert r["restored"] == []
    assert r["restored_twice"] is True
    assert r["lookups_restored"] == []
    assert r["recv_in_class_dict"] is False
    for name in [
        "time.sleep",
        "socket.socket.recv",
        "socket.socket.sendall",
        "socket.socket._accept",
        "socket.socket.connect",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "select.select",
        "select.poll",
        "select.epoll",
        "selectors.SelectSelector.select",
        "selectors.EpollSelector.select",
    ]:
        assert name in r["names"]


SELECTIVE = """
import child; child.start()
import offset
from offset import patches
out = {}
offset.patch_all(socket=False, dns=False, subprocess=False)
out["all_but"] = {a: patches.is_patched(a) for a in patches.AREAS}
offset.unpatch_all()
out["none"] = {a: patches.is_patched(a) for a in patches.AREAS}
patches.time.patch()
patches.time.patch()
import time
out["time_only"] = {a: patches.is_patched(a) for a in patches.AREAS}
out["time_wrapped"] = hasattr(time.sleep, "__wrapped__")
patches.socket.unpatch()   # not patched: a no-op
patches.time.unpatch()
patches.time.unpatch()
out["time_unwrapped"] = not hasattr(time.sleep, "__wrapped__")
out["subprocess_off"] = patches.is_patched("subprocess")
errors = []
for call in (lambda: offset.patch_all(bogus=False), lambda: patches.is_patched("bogus")):
    try:
        call()
    except Exception as e:
        errors.append([type(e).__name__, str(e)])
out["errors"] = errors
child.report(out)
"""


def test_selective_patching() -> None:
    r = run_child(SELECTIVE)
    assert r["all_but"] == {
        "time": True,
        "socket": False,
        "dns": False,
        "select": True,
        "selectors": True,
        "signal": True,
        "threading": True,
        "queue": True,
        "ssl": True,
        "os": True,
        "subprocess": False,
    }
    assert r["none"] == dict.fromkeys(r["none"], False)
    assert r["time_only"] == {
        "time": True,
        "socket": False,
        "dns": False,
        "select": False,
        "selectors": False,
        "signal": False,
        "threading": False,
        "queue": False,
        "ssl": False,
        "os": False,
        "subprocess": False,
    }
    assert r["time_wrapped"] and r["time_unwrapped"]
    assert r["subprocess_off"] is False
    areas = "time, socket, dns, select, selectors, signal, threading, queue, ssl, os, subprocess"
    assert r["errors"] == [
        ["TypeError", f"patch_all() got an unexpected keyword argument 'bogus'; the areas are: {areas}"],
        ["ValueError", f"is_patched(): no area 'bogus'; the areas are: {areas}"],
    ]


DEFERRED = """
import child; child.start()
import os, sys, tempfile
import offset
from offset.patches import _registry
out = {"socket_imported_by_offset": "socket" in sys.modules}
# wrapt imports socket itself when patching starts, so the stdlib areas'
# modules are always there by then; a module of our own shows the hook.
d = tempfile.mkdtemp()
with open(os.path.join(d, "lateimport.py"), "w") as f:
    f.write("def fn():\\n    return 'original'\\n")
sys.path.insert(0, d)
def wrapper(wrapped, instance, args, kwargs):
    return "patched"
late = _registry.Area("late", "late_area", "``lateimport.fn``")
late.define("lateimport", "fn", lambda original: _registry.function_wrapper(original, wrapper))
late.patch()
out["not_imported_yet"] = "lateimport" not in sys.modules
import lateimport
out["patched_on_import"] = lateimport.fn()
late.unpatch()
out["unpatched"] = lateimport.fn()
late.patch()
out["patched_again"] = lateimport.fn()
offset.unpatch_all()
out["unpatch_all"] = lateimport.fn()
child.report(out)
"""


def test_modules_imported_after_patching_are_patched_on_import() -> None:
    assert run_child(DEFERRED) == {
        "socket_imported_by_offset": False,
        "not_imported_yet": True,
        "patched_on_import": "patched",
        "unpatched": "original",
        "patched_again": "patched",
        "unpatch_all": "original",
    }


UNPATCHED_BEFORE_IMPORT = """
import child; child.start()
import os, sys, tempfile
from offset.patches import _registry
d = tempfile.mkdtemp()
with open(os.path.join(d, "lateimport2.py"), "w") as f:
    f.write("def fn():\\n    return 'original'\\n")
sys.path.insert(0, d)
late2 = _registry.Area("late2", "late2_area", "``lateimport2.fn``")
late2.define("lateimport2", "fn", lambda original: _registry.function_wrapper(original, lambda *a: "patched"))
late2.patch()
late2.unpatch()
import lateimport2
child.report([lateimport2.fn(), late2.is_patched()])
"""


def test_unpatch_before_import_leaves_the_module_alone() -> None:
    assert run_child(UNPATCHED_BEFORE_IMPORT) == ["original", False]


EARLY_BINDING = """
import child; child.start()
import sys, types, warnings
early = types.ModuleType("early")
exec("from time import sleep\\nfrom socket import getaddrinfo as resolve\\nfrom select import select", early.__dict__)
sys.modules["early"] = early
import offset
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    offset.patch_all()
    offset.unpatch_all()
    offset.patch_all()        # warned once per name, not again
child.report(sorted([w.category.__name__, str(w.message)] for w in caught))
"""


def test_names_bound_before_patching_are_reported_once() -> None:
    def message(name: str, target: str) -> str:
        return (
            f"offset could not patch early.{name}: it was bound to {target} before patching, so "
            "calls through it still block the whole thread. Call offset.patch_all() first thing "
            "in the program, before other imports (or run it with python -m offset)."
        )

    assert run_child(EARLY_BINDING) == [
        ["PatchWarning", message("resolve", "socket.getaddrinfo")],
        ["PatchWarning", message("select", "select.select")],
        ["PatchWarning", message("sleep", "time.sleep")],
    ]


CLEAN = """
import child; child.start()
import warnings
warnings.simplefilter("error")
import offset
offset.patch_all()
import socket, select, selectors, time, urllib.request, http.client, http.server, socketserver, ssl
offset.unpatch_all()
offset.patch_all()
child.report("quiet")
"""


def test_no_warning_when_patched_first() -> None:
    assert run_child(CLEAN) == "quiet"


FOREIGN_WRAPPER = """
import child; child.start()
import socket, wrapt
import offset
original = vars(socket.socket).get("recv"), socket.socket.recv
offset.patch_all()
ours = vars(socket.socket)["recv"]
calls = []
def spy(wrapped, instance, args, kwargs):
    calls.append(1)
    return wrapped(*args, **kwargs)
theirs = wrapt.wrap_function_wrapper(socket.socket, "recv", spy)
offset.patch_all()                      # still a no-op
offset.unpatch_all()                    # takes ours out from under theirs
top = vars(socket.socket)["recv"]
a, b = socket.socketpair()
b.send(b"x")
a.recv(1)
child.report({
    "theirs_on_top": top is theirs,
    "original_beneath": top.__wrapped__ is original[1],
    "spy_called": len(calls),
})
"""


def test_a_wrapper_applied_over_ours_survives_unpatch() -> None:
    assert run_child(FOREIGN_WRAPPER) == {"theirs_on_top": True, "original_beneath": True, "spy_called": 1}


PICKLING = """
import child; child.start()
import offset
offset.patch_all()
import concurrent.futures, pickle, select, socket, threading, time
same = {}
for name, f in [("time.sleep", time.sleep), ("threading.Lock", threading.Lock), ("threading.RLock", threading.RLock),
                ("socket.getaddrinfo", socket.getaddrinfo),
                ("select.select", select.select), ("threading.Thread.join", threading.Thread.join)]:
    # == for Thread.join: wrapt binds a new wrapper at each class attribute access.
    same[name] = pickle.loads(pickle.dumps(f)) == f and type(pickle.loads(pickle.dumps(f))) is type(f)
# Python's own reference for a name offset does not patch in that module.
same["_socket.gethostbyname"] = pickle.loads(pickle.dumps(socket.gethostbyname)) is socket.gethostbyname.__wrapped__
def main():
    with concurrent.futures.ProcessPoolExecutor(1) as ex:
        return ex.submit(time.sleep, 0).result()
child.report({"same": same, "pool": offset.run(main)})
"""


def test_patched_functions_pickle_by_reference() -> None:
    # multiprocessing and ProcessPoolExecutor pickle the function they run.
    r = run_child(PICKLING)
    assert r["same"] == dict.fromkeys(r["same"], True)
    assert r["pool"] is None


AREA_FUNCTIONS = """
import child; child.start()
import inspect
from offset import patches
from offset.patches import _registry
out = {}
for name in patches.AREAS:
    module = getattr(patches, name)
    fns = [module.patch, module.unpatch, module.is_patched]
    out[name] = {
        "area": module.AREA.name,
        "names": [f.__name__ for f in fns],
        "modules": sorted({f.__module__ for f in fns}),
        "signatures": [str(inspect.signature(f)) for f in fns],
        "docs": [f.__doc__ for f in fns],
    }
out["order"] = sorted(_registry._areas) == sorted(patches.AREAS)
errors = []
def attempt(fn):
    try:
        fn()
    except Exception as e:
        errors.append([type(e).__name__, str(e)])
attempt(lambda: _registry.Area("time", "x", "again"))
attempt(lambda: _registry.Area("other", "x", "t").define("time", "sleep", lambda o: o))
out["errors"] = errors
# An area with nothing to patch on this system: patching is a no-op, and
# it never counts as patched.
empty = _registry.Area("empty", "empty_area", "nothing")
empty.patch()
out["empty"] = [empty.is_patched(), repr(empty)]
child.report(out)
"""


def test_each_area_module_gets_its_functions_from_its_area() -> None:
    r = run_child(AREA_FUNCTIONS)
    assert r.pop("order") is True
    assert r.pop("errors") == [
        ["ValueError", "Area(): an area named 'time' exists already"],
        ["ValueError", "define(): time.sleep is patched by area 'time' already"],
    ]
    assert r.pop("empty") == [False, "<patch area 'empty' (0 patches)>"]
    for name, info in r.items():
        assert info["area"] == name
        assert info["names"] == ["patch", "unpatch", "is_patched"]
        assert info["modules"] == [f"offset.patches.{name}"]
        assert info["signatures"] == ["() -> 'None'", "() -> 'None'", "() -> 'bool'"]
    assert r["time"]["docs"] == [
        "Patch ``time.sleep`` (a no-op if patched already).",
        "Put back the original ``time.sleep`` (a no-op if not patched).",
        "Whether the time area (``time.sleep``) is patched.",
    ]


AREA_STATE = """
import child; child.start()
import os, sys, tempfile
from offset.patches import _registry
d = tempfile.mkdtemp()
with open(os.path.join(d, "areamod.py"), "w") as f:
    f.write("def a():\\n    return 'a'\\ndef b():\\n    return 'b'\\n")
sys.path.insert(0, d)
import areamod
def tag(original):
    return _registry.function_wrapper(original, lambda wrapped, instance, args, kwargs: "patched " + wrapped())
order = []
first = _registry.Area("first", "first_area", "a")
first.define("areamod", "a", tag, restored=lambda original: order.append(("restored", original.__name__)))
second = _registry.Area("second", "second_area", "b")
second.define("areamod", "b", tag, restored=lambda original: order.append(("restored", original.__name__)))
patch_first, unpatch_first, is_first = first.functions()
out = {"before": [areamod.a(), areamod.b(), is_first(), second.is_patched()]}
patch_first(); patch_first()
out["first"] = [areamod.a(), areamod.b(), is_first(), second.is_patched()]
second.patch()
_registry.unpatch_all()
out["all_off"] = [areamod.a(), areamod.b(), is_first(), second.is_patched(), order]
unpatch_first()
child.report(out)
"""


def test_areas_switch_on_and_off_on_their_own_and_unpatch_all_goes_newest_first() -> None:
    assert run_child(AREA_STATE) == {
        "before": ["a", "b", False, False],
        "first": ["patched a", "b", True, False],
        "all_off": ["a", "b", False, False, [["restored", "b"], ["restored", "a"]]],
    }


GET_ORIGINAL = """
import child; child.start()
import os, sys, tempfile
import offset
from offset.patches import get_original
import select, socket, time
before = {
    "sleep": time.sleep,
    "recv": socket.socket.recv,
    "select": select.select,
    "lock": __import__("threading").Lock,
    "open": open,
}
def same(name, value):
    return value is before[name]
out = {}
offset.patch_all()
out["patched_differs"] = time.sleep is not before["sleep"]
out["patched"] = [
    same("sleep", get_original("time", "sleep")),
    same("recv", get_original("socket", "socket.recv")),
    same("select", get_original("select", "select")),
    same("lock", get_original("threading", "Lock")),
    same("open", get_original("builtins", "open")),
]
out["list"] = [same(n, v) for n, v in zip(["sleep", "select"], [*get_original("time", ["sleep"]), get_original("select", ("select",))[0]])]
out["list_type"] = type(get_original("time", ("sleep", "monotonic"))).__name__
out["unpatched_name"] = get_original("time", "monotonic") is time.monotonic
out["alternatives"] = get_original(["no_such_module_x", "time"], "sleep") is before["sleep"]
out["class"] = get_original("socket", "socket") is socket.socket
offset.unpatch_all()
out["after_unpatch"] = get_original("time", "sleep") is time.sleep is before["sleep"]
# A module imported by get_original: patched on import, original returned.
d = tempfile.mkdtemp()
with open(os.path.join(d, "notyet.py"), "w") as f:
    f.write("def fn():\\n    return 'original'\\n")
sys.path.insert(0, d)
from offset.patches import _registry
area = _registry.Area("notyet", "notyet_area", "``notyet.fn``")
area.define("notyet", "fn", lambda o: _registry.function_wrapper(o, lambda w, i, a, k: "patched"))
area.patch()
fn = get_original("notyet", "fn")
import notyet
out["imported"] = [fn(), notyet.fn(), fn is notyet.fn.__wrapped__]
errors = []
for args in [(1, "sleep"), ("time", 1), ("time", [1]), (b"time", "sleep"), ("time", None),
             ("", "sleep"), ("time", ""), ("time", []), ([], "sleep"), (".time", "sleep"), ("time", "a..b"),
             ("no_such_module_x", "sleep"), (["no_such_module_x", "no_such_module_y"], "sleep"),
             ("time", "no_such_attr"), ("socket", "socket.no_such_attr")]:
    try:
        get_original(*args)
    except Exception as e:
        errors.append([type(e).__name__, str(e)])
    else:
        errors.append(None)
out["errors"] = errors
child.report(out)
"""


def test_get_original() -> None:
    r = run_child(GET_ORIGINAL)
    assert r.pop("errors") == [
        ["TypeError", "get_original() argument 'module_name' must be str or a sequence of str, not int"],
        ["TypeError", "get_original() argument 'attr' must be str or a sequence of str, not int"],
        ["TypeError", "get_original() argument 'attr' must be str or a sequence of str, not list"],
        ["TypeError", "get_original() argument 'module_name' must be str or a sequence of str, not bytes"],
        ["TypeError", "get_original() argument 'attr' must be str or a sequence of str, not NoneType"],
        ["ValueError", "get_original(): module_name must not be an empty string"],
        ["ValueError", "get_original(): attr must not be an empty string"],
        ["ValueError", "get_original(): attr must not be an empty sequence"],
        ["ValueError", "get_original(): module_name must not be an empty sequence"],
        ["ValueError", "get_original(): module_name must be an absolute module name, not '.time'"],
        ["ValueError", "get_original(): attr 'a..b' is not an attribute name"],
        ["ModuleNotFoundError", "No module named 'no_such_module_x'"],
        ["ModuleNotFoundError", "No module named 'no_such_module_y'"],
        ["AttributeError", "module 'time' has no attribute 'no_such_attr'"],
        ["AttributeError", "type object 'socket' has no attribute 'no_such_attr'"],
    ]
    assert r == {
        "patched_differs": True,
        "patched": [True, True, True, True, True],
        "list": [True, True],
        "list_type": "list",
        "unpatched_name": True,
        "alternatives": True,
        "class": True,
        "after_unpatch": True,
        "imported": ["original", "patched", True],
    }
