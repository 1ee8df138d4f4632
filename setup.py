"""offset's compiled core: mypyc compiles the modules offset/_build.py lists, from their .py source.

pyproject.toml holds everything else; this file only adds the extension
modules. The .py files are installed beside them, as the fallback and the
documentation (offset/_build.py chooses at import). No extension is built,
and the install is pure Python, when:

- ``OFFSET_PURE_PYTHON`` is 1 (or true, yes, on) at build time (offset/_config.py
  parses it; a value it does not accept stops the build with its ValueError);
- mypyc cannot be imported (a build without build isolation, in an
  environment without mypy), or its type check of the package fails (a
  newer mypy than the one the code was checked with);
- the C compiler fails: each extension is optional, and offset/_build.py
  runs the pure modules unless every one of them was built.

The build records a digest of the sources it compiled in
offset/_build_stamp.<cache tag>.txt; offset runs a compiled core only while its
sources still match it (after an edit in an editable install it runs pure,
with a warning, until ``pip install -e .`` again).

The modules share one C library, ``offset/_core__mypyc*.so`` (mypyc's
group, named so that it sits inside the package). A clean build takes ~30 s
of one core.
"""

from __future__ import annotations

import os
import runpy
import sys
from typing import Any

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
build = runpy.run_path(os.path.join(HERE, "offset", "_build.py"))  # the stdlib only: no offset imports
config = runpy.run_path(os.path.join(HERE, "offset", "_config.py"))  # OFFSET_* variables; the stdlib only


def say(message: str) -> None:
    print(f"offset setup.py: {message}", file=sys.stderr)


def ext_modules() -> list[Any]:
    if config["pure_python"]():
        say("OFFSET_PURE_PYTHON is set: a pure-Python build")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        say("mypyc is not installed: a pure-Python build")
        return []
    paths = [os.path.relpath(build["source_path"](name, HERE), HERE) for name in build["MODULES"]]
    try:
        extensions = mypycify(paths, opt_level="3", group_name="offset._core")
    except (Exception, SystemExit) as e:  # mypyc exits on a type error
        say(f"mypyc could not compile the core ({e!r}): a pure-Python build")
        return []
    with open(os.path.join(HERE, "offset", build["STAMP"]), "w", encoding="ascii") as f:
        f.write(build["digest"](HERE) + "\n")
    for ext in extensions:
        ext.optional = True  # no working compiler: install the pure modules
    return list(extensions)


setup(ext_modules=ext_modules())
