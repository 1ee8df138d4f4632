"""``python -m offset``: run an unmodified program with everything patched.

    python -m offset script.py [args...]
    python -m offset -m module [args...]
    python -m offset --version

The program runs as it would under plain ``python``: ``sys.argv``,
``__name__ == "__main__"``, ``sys.path[0]`` (the script's directory, or the
current directory for ``-m``) and the exit status are the same, except that
``offset.patch_all()`` ran first and the program's top-level code is the
main goroutine of ``offset.run()``. So blocking calls anywhere in it
(sockets, ``time.sleep``, ``select``, DNS) park only the goroutine that
makes them, and goroutines started with ``offset.go`` run while it waits.
As in Go, the program ends when its main goroutine does.

An exception that escapes the program prints the usual traceback (from the
program's own frames, through ``sys.excepthook``) and exits with status 1;
``SystemExit`` passes its code through.
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, NoReturn

_USAGE = """\
usage: python -m offset script.py [args...]
       python -m offset -m module [args...]
       python -m offset --version

Run a Python program with offset's patch layer on (offset.patch_all()) and
its top-level code as the main goroutine."""


def _usage_error(message: str) -> NoReturn:
    print(f"{_USAGE}\n\npython -m offset: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _version() -> str:
    """``offset 0.1.0 (compiled)`` or ``offset 0.1.0 (pure Python)``, and the interpreter."""
    import platform

    import offset

    build = "compiled" if offset.COMPILED else "pure Python"
    return f"offset {offset.__version__} ({build}) on {platform.python_implementation()} {platform.python_version()}"


def _parse(argv: list[str]) -> tuple[str, str, list[str]]:
    """(kind, target, program argv) where kind is "path" or "module"."""
    if not argv:
        _usage_error("no script or module given")
    first = argv[0]
    if first in ("-h", "--help"):
        print(_USAGE)
        raise SystemExit(0)
    if first in ("-V", "--version"):
        print(_version())
        raise SystemExit(0)
    if first == "-m":
        if len(argv) < 2:
            _usage_error("argument -m: expected a module name")
        return "module", argv[1], argv[1:]
    if first.startswith("-m") and len(first) > 2:  # -mmodule, as python takes it
        return "module", first[2:], argv
    if first.startswith("-") and first != "-":
        _usage_error(f"unknown option {first!r}")
    return "path", first, argv


def _program_frames(tb: TracebackType | None, filename: str | None) -> TracebackType | None:
    """``tb`` without offset's and runpy's frames in front of the program's."""
    start = tb
    while start is not None:
        code = start.tb_frame.f_code
        if filename is not None and code.co_filename == filename:
            return start
        start = start.tb_next
    # The program's file never showed up (it failed inside a module it ran,
    # or runpy ran a directory or zip file): drop offset's and runpy's
    # frames in front.
    start = tb
    while start is not None and start.tb_next is not None and _is_ours(start.tb_frame.f_code.co_filename):
        start = start.tb_next
    return start


_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


def _is_ours(filename: str) -> bool:
    return filename.startswith(_PKG_DIR) or filename in (runpy.__file__, "<frozen runpy>")


def main(argv: list[str] | None = None) -> None:
    """Run the program named in ``argv`` (default: ``sys.argv[1:]``)."""
    kind, target, program_argv = _parse(sys.argv[1:] if argv is None else argv)

    # Patch before anything of the program is imported (see offset.patches).
    import offset

    offset.patch_all()

    filename: str | None
    runner: Callable[[], Any]
    if kind == "path":
        if not os.path.exists(target):
            print(
                f"{sys.executable}: can't open file {os.path.abspath(target)!r}: [Errno 2] No such file or directory",
                file=sys.stderr,
            )
            raise SystemExit(2)
        sys.argv = program_argv
        if os.path.isfile(target) and not target.endswith((".pyc", ".zip")):
            # As plain python does: the script's directory comes first on the
            # path, and the script's code carries its absolute file name.
            sys.path[0] = os.path.dirname(os.path.abspath(target))
            filename = os.path.abspath(target)
            runner = _script_runner(filename)
        else:
            # A directory, zip file or .pyc: runpy knows those (and puts the
            # path on sys.path itself).
            filename = None

            def runner() -> Any:
                return runpy.run_path(target, run_name="__main__")

    else:
        sys.argv = program_argv  # runpy puts the module's file in argv[0]
        filename = None

        def runner() -> Any:
            return runpy.run_module(target, run_name="__main__", alter_sys=True)

        if "" not in sys.path and os.getcwd() not in sys.path:  # pragma: no cover - python -I
            sys.path.insert(0, os.getcwd())

    try:
        offset.run(runner)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        if kind == "module":
            filename = _module_file(target)
        if isinstance(exc, SyntaxError) and exc.filename == filename:
            tb = None  # python shows a script's syntax error without a traceback
        else:
            tb = _program_frames(exc.__traceback__, filename)
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        raise SystemExit(1) from None


def _script_runner(path: str) -> Callable[[], None]:
    """Run the source file ``path`` as ``__main__``, as plain python does.

    Not runpy.run_path: it sets ``sys.argv[0]`` to the path it is given and
    swaps ``__main__`` back when the script ends, where python leaves
    argv[0] as typed and the script's module as ``__main__`` for good
    (atexit handlers and pickle look there).
    """
    import builtins
    import importlib.machinery
    import io
    import types

    module = types.ModuleType("__main__")
    module.__dict__.update(
        __file__=path,
        __cached__=None,
        __loader__=importlib.machinery.SourceFileLoader("__main__", path),
        __spec__=None,
        __builtins__=builtins,
        __annotations__={},
    )

    def runner() -> None:
        with io.open_code(path) as f:
            source = f.read()
        code = compile(source, path, "exec", dont_inherit=True)
        sys.modules["__main__"] = module
        exec(code, module.__dict__)

    return runner


def _module_file(name: str) -> str | None:
    """The file ``runpy.run_module(name)`` ran (a package runs its __main__)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations is not None:
            spec = importlib.util.find_spec(name + ".__main__")
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None)
    return origin if isinstance(origin, str) else None


if __name__ == "__main__":
    main()
