"""``python -m offset``: run an unmodified program with everything patched.

    python -m offset [options] script.py [args...]
    python -m offset [options] -m module [args...]
    python -m offset --help | --version

Options (``--help`` lists them with the patch areas): ``--no-AREA`` leaves
a patch area alone and ``--AREA`` patches only the areas named so, as
gevent's runner (``python -m gevent.monkey``) has them, both derived from
the patch registry; ``--monitor[=DURATION]`` starts the blocking monitor
(offset.monitor) and ``--dump-signal=SIGNAL`` installs the goroutine dump
on a signal (offset.debug), as ``OFFSET_MONITOR`` and
``OFFSET_DUMP_SIGNAL`` do.

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
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")

_USAGE = """\
usage: python -m offset [options] script.py [args...]
       python -m offset [options] -m module [args...]
       python -m offset --help | --version

Run a Python program with offset's patch layer on (offset.patch_all()) and
its top-level code as the main goroutine."""

_OPTIONS = """\
options:
  -h, --help            show this help and exit
  -V, --version         show offset's version and build, and exit
  -m module             run a module, as python -m does
  --no-AREA             leave patch area AREA alone (patch_all(AREA=False))
  --AREA                patch only the areas named so (several may be given)
  --monitor[=DURATION]  report a goroutine that holds its thread longer than
                        DURATION without switching, with its stack (default
                        100ms; Go's syntax or seconds: 100ms, 1.5s, 0.1), as
                        OFFSET_MONITOR does
  --dump-signal=SIGNAL  print every goroutine with its stack on SIGNAL (SIGUSR2,
                        USR2 or a number) and carry on, as OFFSET_DUMP_SIGNAL does
  --                    end of options: the script's name comes next"""

# --monitor without a value.
_DEFAULT_MONITOR = "100ms"


class _Options:
    """What ``python -m offset`` was asked, besides the program."""

    __slots__ = ("areas", "monitor", "dump_signal")

    def __init__(self) -> None:
        self.areas: dict[str, bool] = {}  # patch_all's keywords
        self.monitor: float | None = None  # seconds
        self.dump_signal: int | None = None


def _areas() -> dict[str, str]:
    """The patch areas, in patch_all's order, with what each replaces (from the registry)."""
    from offset import patches

    # The registry's Area objects, by name in patch_all's order; ``what`` is
    # the phrase each area module gives for its functions' docstrings.
    return {name: patches._BY_NAME[name].what.replace("``", "") for name in patches.AREAS}


def _help() -> str:
    width = max(len(name) for name in _areas())
    rows = [f"  {name:<{width}}  {what}" for name, what in _areas().items()]
    return (
        f"{_USAGE}\n\n{_OPTIONS}\n\npatch areas (all patched unless --no-AREA or --AREA says otherwise):\n"
        + "\n".join(rows)
    )


def _usage_error(message: str) -> NoReturn:
    print(f"{_USAGE}\n\npython -m offset: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _version() -> str:
    """``offset 0.1.0 (compiled)`` or ``offset 0.1.0 (pure Python)``, and the interpreter."""
    import platform

    import offset

    build = "compiled" if offset.COMPILED else "pure Python"
    return f"offset {offset.__version__} ({build}) on {platform.python_implementation()} {platform.python_version()}"


def _parse(argv: list[str]) -> tuple[str, str, list[str], _Options]:
    """(kind, target, program argv, options) where kind is "path" or "module".

    Options come before the program, as for python itself and gevent's
    runner (``python -m gevent.monkey --no-socket script.py``); everything
    from the script's name on is the program's.
    """
    opts = _Options()
    only: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            print(_help())
            raise SystemExit(0)
        if arg in ("-V", "--version"):
            print(_version())
            raise SystemExit(0)
        if arg == "--":
            i += 1
            break
        if arg == "-m":
            if i + 1 >= len(argv):
                _usage_error("argument -m: expected a module name")
            return "module", argv[i + 1], argv[i + 1 :], _finish(opts, only)
        if arg.startswith("-m") and len(arg) > 2:  # -mmodule, as python takes it
            return "module", arg[2:], argv[i:], _finish(opts, only)
        if not arg.startswith("-") or arg == "-":
            break
        i += 1
        name, eq, value = arg.partition("=")
        if name == "--monitor":
            opts.monitor = _value(name, _monitor_seconds, value if eq else _DEFAULT_MONITOR)
        elif name == "--dump-signal":
            if not eq:
                if i >= len(argv):
                    _usage_error("argument --dump-signal: expected a signal name")
                value = argv[i]
                i += 1
            opts.dump_signal = _value(name, _signal_number, value)
        elif arg.startswith("--no-") and arg[5:] in _areas():
            opts.areas[arg[5:]] = False
        elif arg.startswith("--") and arg[2:] in _areas():
            only.append(arg[2:])
        else:
            _usage_error(f"unknown option {arg!r} (the patch areas are: {', '.join(_areas())})")
    if i >= len(argv):
        _usage_error("no script or module given")
    return "path", argv[i], argv[i:], _finish(opts, only)


def _finish(opts: _Options, only: list[str]) -> _Options:
    """With ``--AREA`` given, the areas not named are left alone (gevent's rule)."""
    if only:
        for name in _areas():
            opts.areas.setdefault(name, name in only)
    return opts


def _monitor_seconds(value: str) -> float:
    from offset import monitor

    return monitor.parse_threshold(value, "--monitor")


def _signal_number(value: str) -> int:
    from offset.debug import signal_number

    return signal_number(value, "--dump-signal")


def _value(option: str, convert: Callable[[str], T], value: str) -> T:
    try:
        return convert(value)
    except ValueError as e:
        _usage_error(str(e))


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
    kind, target, program_argv, opts = _parse(sys.argv[1:] if argv is None else argv)

    # Patch before anything of the program is imported (see offset.patches).
    import offset

    offset.patch_all(**opts.areas)
    if opts.dump_signal is not None:
        from offset.debug import install_dump_signal

        install_dump_signal(opts.dump_signal)
    if opts.monitor is not None:
        offset.monitor.start(opts.monitor)

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
