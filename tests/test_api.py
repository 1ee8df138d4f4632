"""The public names of the top-level package against API.md.

API.md, "Goroutines and the scheduler", "Channels" and "select" list what
``offset`` itself exports, and "Running in production" its diagnostics
(``offset.dump``, ``offset.stats``, ``offset.monitor``); other sections add
submodules (offset.time, offset.sync, ...) that have their own tests.
"""

from __future__ import annotations

import offset

# The names API.md shows imported from, or used on, the top-level package.
API_NAMES = {
    "go",
    "run",
    "maintask",
    "gosched",
    "makechan",
    "select",
    "default",
    "PanicError",
    "DeadlockError",
    "syscall",
    "dump",
    "stats",
    "monitor",
}


def test_all_lists_the_api_names():
    assert API_NAMES <= set(offset.__all__)


def test_all_has_no_duplicates_and_every_name_exists():
    assert len(offset.__all__) == len(set(offset.__all__))
    for name in offset.__all__:
        assert hasattr(offset, name), name


def test_star_import_gives_the_api():
    namespace: dict[str, object] = {}
    exec("from offset import *", namespace)
    assert API_NAMES <= set(namespace)


def test_exceptions_report_module_offset():
    for exc in (offset.PanicError, offset.DeadlockError):
        assert exc.__module__ == "offset", exc
        assert exc.__qualname__ in ("PanicError", "DeadlockError")


def test_panic_error_is_a_runtime_error():
    assert issubclass(offset.PanicError, RuntimeError)


def test_deadlock_error_is_an_exception():
    assert issubclass(offset.DeadlockError, Exception)


def test_monitor_is_a_module_with_start_and_stop():
    import types

    assert isinstance(offset.monitor, types.ModuleType)
    assert callable(offset.monitor.start) and callable(offset.monitor.stop)


def test_functions_are_callable_and_typed_package():
    for name in ("go", "run", "maintask", "gosched", "makechan", "select", "syscall", "dump", "stats"):
        assert callable(getattr(offset, name)), name
    import importlib.resources

    assert importlib.resources.files("offset").joinpath("py.typed").is_file()
