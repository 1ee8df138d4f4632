"""Build offset, compiling its hot core modules with mypyc (issue 11).

The ``.py`` files stay the source of truth: mypyc compiles them as they are
(they pass ``mypy --strict``). Set ``OFFSET_PURE_PYTHON=1`` at build time to
skip compilation and install the pure-Python modules only.
"""

import os

from setuptools import setup

# Compiled from their one source; each must stay mypy --strict clean.
COMPILED = [
    "offset/_core/_sched.py",
    "offset/_core/_chan.py",
    "offset/_core/_select.py",
    "offset/_core/_timers.py",
    "offset/_core/_time.py",
    "offset/_core/_sema.py",
    "offset/_core/_netpoll.py",
    "offset/_core/_netpoll_epoll.py",
    "offset/_core/_netpoll_selectors.py",
    "offset/_core/_io.py",
    "offset/_core/_waitreason.py",
]


def ext_modules() -> list:  # type: ignore[type-arg]
    if os.environ.get("OFFSET_PURE_PYTHON", "") not in ("", "0"):
        return []
    from mypyc.build import mypycify

    return mypycify(COMPILED, opt_level="3", group_name="offset._core")


setup(ext_modules=ext_modules())
