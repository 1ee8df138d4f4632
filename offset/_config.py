"""offset's environment variables: the one place that reads and checks them.

What: every ``OFFSET_*`` variable offset reads, each with one parser here
and a line in ``VARIABLES`` (name, what it accepts, its default, when it is
read), which the README's table follows. ``check_environment()``, the first
thing ``offset/__init__.py`` does, parses every one that is set, so that a
bad value is one ``ValueError`` when offset is imported, naming the
variable, what it accepts and what it was given; several bad values are one
error with a line each.

When each one takes effect (its parser is called again there, so a value
set after import is read, and checked, at that moment):

- ``OFFSET_PURE_PYTHON``: when offset is first imported (``_build.select``),
  and by ``setup.py`` at build time.
- ``OFFSET_MAX_THREADS``: when the thread pool is made, at the first
  blocking call (``_core/_syscall.py``).
- ``OFFSET_NETPOLL``: when offset is imported (which backends to import)
  and whenever a netpoller is made (``_core/_netpoll.py``).
- ``OFFSET_MONITOR`` and ``OFFSET_DUMP_SIGNAL``: when offset is imported
  (``debug.setup_from_environment``).
- ``OFFSET_SHUFFLE``: when offset is imported (``_core/_sched.py`` keeps
  it in a constant, so that the scheduler's hot path tests one bool).

An empty (or all blank) value is the same as an unset one, for each.

Invariants: this module imports only the standard library, so that
``setup.py`` can run it with ``runpy`` (as it does ``_build.py``) without
offset's dependencies. Each parser either returns a valid value or raises
``ValueError`` whose message starts with the variable's name; nothing falls
back silently to a default on a value it does not understand.

Rejected designs:
- Checking each variable only where it takes effect (as
  ``OFFSET_MAX_THREADS`` and ``OFFSET_NETPOLL`` were): the error came out of
  the first goroutine that made a blocking call, or out of ``run()``'s first
  idle wait, far from its cause and after the program had started work.
- One settings object frozen at import: the pool is sized when it is made
  and a netpoller chosen when it is made, and programs and tests that set a
  variable after import (before the first pool call) rely on that.
- Reading any value but "" and "0" as "yes" (``OFFSET_PURE_PYTHON`` did):
  ``OFFSET_PURE_PYTHON=maybe``, or ``=false``, silently chose the build.
- Warning about unknown ``OFFSET_*`` names (a typo in a name): the prefix
  is not offset's alone (test runners and deployments set their own), and a
  warning on every import for them would teach people to ignore it.
"""

from __future__ import annotations

import os
import re
import select as _select
import signal as _stdsignal
from typing import NamedTuple

__all__ = [
    "DEFAULT_MAX_THREADS",
    "VARIABLES",
    "Variable",
    "check_environment",
    "dump_signal",
    "max_threads",
    "monitor_threshold",
    "netpoll",
    "parse_duration",
    "pure_python",
    "shuffle_seed",
    "signal_number",
]


class Variable(NamedTuple):
    """One environment variable offset reads (a row of the README's table)."""

    name: str
    accepts: str
    default: str
    read: str


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "OFFSET_MAX_THREADS",
        "a positive integer",
        "64",
        "when the thread pool is made (the first blocking call)",
    ),
    Variable(
        "OFFSET_NETPOLL",
        "`epoll` or `selectors`",
        "epoll where the platform has it, else selectors",
        "at import, and whenever a netpoller is made",
    ),
    Variable(
        "OFFSET_PURE_PYTHON",
        "`1`, `true`, `yes`, `on` (pure) or `0`, `false`, `no`, `off`",
        "off: the compiled core where it is installed",
        "when offset is first imported; by setup.py at build time",
    ),
    Variable(
        "OFFSET_MONITOR",
        "a positive duration: `100ms`, `1.5s`, `1m30s` or seconds (`0.1`)",
        "no monitor",
        "at import",
    ),
    Variable(
        "OFFSET_DUMP_SIGNAL",
        "a signal that can be caught: `SIGUSR2`, `USR2` or its number",
        "no dump handler",
        "at import (in the main thread)",
    ),
    Variable(
        "OFFSET_SHUFFLE",
        'an integer: the seed of chaos scheduling (see "Reliability")',
        "off: Go's run order",
        "at import",
    ),
)

DEFAULT_MAX_THREADS = 64

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_NETPOLLS = ("epoll", "selectors")


def pure_python() -> bool:
    """``OFFSET_PURE_PYTHON``: whether to run (or build) the pure-Python core.

    Raises:
        ValueError: neither a yes (1, true, yes, on) nor a no (0, false, no,
            off, or empty), in any case.
    """
    raw = os.environ.get("OFFSET_PURE_PYTHON", "")
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE or text == "":
        return False
    raise ValueError(
        "OFFSET_PURE_PYTHON must be 1, true, yes or on (run the pure-Python core) "
        f"or 0, false, no or off (the compiled core where installed), not {raw!r}"
    )


def max_threads() -> int:
    """``OFFSET_MAX_THREADS``: the thread pool's size; 64 when unset.

    Raises:
        ValueError: not a positive integer.
    """
    raw = os.environ.get("OFFSET_MAX_THREADS", "")
    if raw.strip() == "":
        return DEFAULT_MAX_THREADS
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"OFFSET_MAX_THREADS must be a positive integer, not {raw!r}") from None
    if n < 1:
        raise ValueError(f"OFFSET_MAX_THREADS must be a positive integer, not {raw!r}")
    return n


def netpoll() -> str:
    """``OFFSET_NETPOLL``: "epoll", "selectors", or "" for the platform's best.

    Raises:
        ValueError: any other value, or "epoll" where ``select`` has no epoll.
    """
    raw = os.environ.get("OFFSET_NETPOLL", "")
    text = raw.strip().lower()
    if text not in ("", *_NETPOLLS):
        raise ValueError(f"OFFSET_NETPOLL must be 'epoll' or 'selectors', not {raw!r}")
    if text == "epoll" and not hasattr(_select, "epoll"):
        raise ValueError(
            f"OFFSET_NETPOLL is {raw!r}, but this platform has no epoll: set it to 'selectors' or unset it"
        )
    return text


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(value: str, variable: str) -> float:
    """Seconds from Go's duration syntax ("100ms", "1.5s", "1m30s") or a number of seconds ("0.1").

    Raises:
        ValueError: not a positive duration; the message names ``variable``.
    """
    text = value.strip()
    seconds: float | None = None
    try:
        seconds = float(text)
    except ValueError:
        pos = 0
        total = 0.0
        for m in _DURATION.finditer(text):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if pos == len(text) and pos > 0:
            seconds = total
    if seconds is None or not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{variable} must be a positive duration such as 100ms, 1.5s or 0.1 (seconds), not {value!r}")
    return seconds


def monitor_threshold() -> float | None:
    """``OFFSET_MONITOR``: the blocking monitor's threshold in seconds, or None (no monitor).

    Raises:
        ValueError: not a positive duration.
    """
    raw = os.environ.get("OFFSET_MONITOR", "")
    if raw.strip() == "":
        return None
    return parse_duration(raw, "OFFSET_MONITOR")


def signal_number(value: str, variable: str) -> int:
    """The signal named by ``value`` ("SIGUSR2", "USR2", "12"); ValueError naming ``variable`` otherwise."""
    text = value.strip()
    uncatchable = {int(_stdsignal.SIGKILL), int(_stdsignal.SIGSTOP)}
    names = sorted(
        s.name for s in _stdsignal.valid_signals() if isinstance(s, _stdsignal.Signals) and int(s) not in uncatchable
    )
    number: int | None = None
    if text.isdigit():
        number = int(text)
    else:
        upper = text.upper()
        sig = getattr(_stdsignal.Signals, upper if upper.startswith("SIG") else "SIG" + upper, None)
        if sig is not None:
            number = int(sig)
    if number is None or number not in {int(s) for s in _stdsignal.valid_signals()}:
        raise ValueError(f"{variable} must name a signal ({', '.join(names)}, or its number), not {value!r}")
    if number in uncatchable:
        raise ValueError(f"{variable}: {value!r} cannot be caught; name another signal")
    return number


def dump_signal() -> int | None:
    """``OFFSET_DUMP_SIGNAL``: the signal to dump goroutines on, or None.

    Raises:
        ValueError: not a signal, or one that cannot be caught.
    """
    raw = os.environ.get("OFFSET_DUMP_SIGNAL", "")
    if raw.strip() == "":
        return None
    return signal_number(raw, "OFFSET_DUMP_SIGNAL")


def shuffle_seed() -> int | None:
    """``OFFSET_SHUFFLE``: the seed of chaos scheduling, or None (off).

    Raises:
        ValueError: not an integer.
    """
    raw = os.environ.get("OFFSET_SHUFFLE", "")
    if raw.strip() == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(
            f"OFFSET_SHUFFLE must be an integer, the seed of chaos scheduling (unset or empty: off), not {raw!r}"
        ) from None


_PARSERS = (max_threads, netpoll, pure_python, monitor_threshold, dump_signal, shuffle_seed)


def check_environment() -> None:
    """Parse every variable of ``VARIABLES`` that is set; one ValueError for all that are bad.

    Raises:
        ValueError: one line per bad variable, each naming it, what it
            accepts and the value it was given.
    """
    errors: list[str] = []
    for parse in _PARSERS:
        try:
            parse()
        except ValueError as e:
            errors.append(str(e))
    if errors:
        raise ValueError("\n".join(errors))
