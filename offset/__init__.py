"""offset: Go's concurrency model for Python.

Goroutines (``go``), channels (``makechan``), ``select`` and a scheduler
modelled on Go's, on greenlet; Go's standard kit in ``offset.time``,
``offset.sync``, ``offset.context``, ``offset.errgroup`` and ``offset.signal``; and the patch
layer (``patch_all``, ``offset.patches``) that makes existing blocking code
cooperate. The contract is API.md; semantics are Go's unless it says
otherwise.
"""

# First of all: every OFFSET_* variable that is set is checked (_config.py),
# so a bad value is one clear error now, not a failure later in run().
from . import _config

_config.check_environment()

# Then, before the core is imported: its compiled or its pure-Python build (_build.py).
from . import _build

_build.select()

# The patch layer is built on the core, so it is imported after it.
from . import debug as _debug
from . import monitor as monitor
from . import patches as patches
from ._core import Case as Case
from ._core import Chan as Chan
from ._core import DeadlockError as DeadlockError
from ._core import PanicError as PanicError
from ._core import default as default
from ._core import go as go
from ._core import gosched as gosched
from ._core import maintask as maintask
from ._core import makechan as makechan
from ._core import run as run
from ._core import select as select
from ._core import syscall as syscall
from .debug import dump as dump
from .debug import stats as stats
from .patches import patch_all as patch_all
from .patches import unpatch_all as unpatch_all

#: True when the runtime core runs compiled (mypyc), False when it runs its
#: pure-Python modules (no compiler at install time, or OFFSET_PURE_PYTHON=1).
COMPILED: bool = _build.is_compiled()

for _obj in (Case, Chan, go, gosched, maintask, makechan, run, select, syscall):
    _obj.__module__ = "offset"
del _obj

__all__ = [
    "COMPILED",
    "Case",
    "Chan",
    "DeadlockError",
    "PanicError",
    "default",
    "dump",
    "go",
    "gosched",
    "maintask",
    "makechan",
    "monitor",
    "patch_all",
    "patches",
    "run",
    "select",
    "stats",
    "syscall",
    "unpatch_all",
]

__version__ = "0.1.0"

# OFFSET_DUMP_SIGNAL and OFFSET_MONITOR (offset/debug.py, offset/monitor.py).
_debug.setup_from_environment()
