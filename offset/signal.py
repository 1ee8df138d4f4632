"""Incoming signals delivered on channels: Go's os/signal.

What: ``notify(c, *signals)`` relays every later arrival of one of
``signals`` to channel ``c``, as a ``signal.Signals`` value (a plain int for
a real-time signal with no name)::

    import signal
    import offset
    from offset import signal as osignal

    def main():
        c = offset.makechan(1)
        osignal.notify(c, signal.SIGINT, signal.SIGTERM)
        sig = c.recv()  # parks this goroutine only; Ctrl-C or kill wakes it at once
        print("got", sig.name)

    offset.run(main)

``stop(c)`` ends the relaying to ``c``; ``ignore(*signals)`` sets SIG_IGN;
``reset(*signals)`` undoes notify and ignore; ``ignored(sig)`` says whether
``sig`` is ignored. With no signals, notify and ignore take every signal a
program can catch, and reset every signal this module has changed.

How delivery works: while a channel wants a signal, offset's dispatcher
is the process's handler for it. Python calls it in the main thread,
wherever that thread is; it only records the signal and wakes offset's
signal thread (Go's signal goroutine), which sends the signal on every
channel that wants it, without blocking: a channel that is full, or an
unbuffered one with no receiver ready at that moment, does not get it (Go
drops it too, and ``go vet`` warns about an unbuffered channel: give it a
buffer of 1). The send wakes the receiver wherever it waits: a goroutine
of the main thread's scheduler or of another thread's, or a plain thread;
an idle scheduler is woken at once. No channel operation runs in the
handler itself, so a signal can land anywhere, even inside offset's own
channel code. While any channel wants a signal, no scheduler reports a
deadlock (``DeadlockError``): a goroutine waiting on a signal channel is
waiting for the outside world, as a Go program after ``signal.Notify``
waits.

The program's own handlers (``signal.signal``) keep working beside it:

- A Python handler the program had on a signal before ``notify`` is called
  too, after the signal is relayed, and placed as offset places every
  handler (in the main goroutine, or a moment later from the loop: see
  offset.patches.signal). SIG_DFL, SIG_IGN and SIGINT's default
  ``KeyboardInterrupt`` handler are not: ``notify`` replaces the default
  action, as in Go (``notify(c, SIGINT)`` catches Ctrl-C instead of raising
  KeyboardInterrupt).
- With the signal patch area on (``patch_all()``, ``python -m offset``),
  ``signal.signal`` on a signal a channel wants keeps the dispatcher and
  records the new handler as the program's (called as above; returned by
  ``getsignal``, which shows the program's handler, never the
  dispatcher); ``stop``/``reset`` install the program's handler again.
- Without the patch, ``signal.signal`` replaces the dispatcher: the
  channels get nothing more from that signal until the next ``notify``
  for it, and ``stop``/``reset`` leave the program's handler in place.
- ``stop``, ``reset`` and ``ignore`` put back the handler the program had
  (what ``getsignal`` returned before ``notify``), not SIG_DFL: in Python
  that is "what was installed before". A handler installed from C
  (``getsignal`` returns None: faulthandler's, an extension's) cannot be
  put back by Python: the signal gets SIG_DFL.

Differences from Go:

- Only the main thread may change a handler (Python's rule): ``notify``,
  ``stop``, ``ignore`` and ``reset`` called from another thread (or a
  goroutine of another thread's scheduler) raise the stdlib's
  ``ValueError: signal only works in main thread of the main interpreter``.
  Goroutines of the main thread's scheduler may call them.
- ``notify()`` and ``ignore()`` with no signals leave out SIGKILL and
  SIGSTOP (no program can catch them), SIGSEGV, SIGBUS, SIGFPE and SIGILL
  (a Python handler for a real fault would return into the faulting
  instruction forever; Go makes them panics), signals whose handler was
  installed from C, and, for ``ignore()``, SIGCHLD (SIG_IGN there makes the
  kernel reap children, and ``waitpid`` then fails). Naming one of them
  explicitly takes it. ``notify(c, SIGKILL)`` raises the stdlib's
  ``OSError`` (EINVAL), where Go accepts it and nothing ever arrives.
- A closed channel gets nothing (Go's signal goroutine would panic and end
  the program).
- Several arrivals of one signal before Python runs its handler are one
  (Python's C handler only marks the signal); Go coalesces too.
- The signal thread is a real OS thread, alive while a channel wants a
  signal: ``os.fork()`` then warns, on Python 3.12 and later, that the
  process is multi-threaded (the child starts its own signal thread).

Rejected designs (see offset/_core/_signal.py for the machinery's):
sending from the handler (it may interrupt a channel operation that holds
the channel lock), and a Python handler per channel chained by
``signal.signal`` (stop could not unhook one from the middle of a chain,
and a program's ``signal.signal`` would break the chain).
"""

from __future__ import annotations

from typing import Any

from ._core import Chan, signal_ignore, signal_ignored, signal_notify, signal_reset, signal_stop

__all__ = ["ignore", "ignored", "notify", "reset", "stop"]


def notify(c: Chan[Any], *signals: int) -> None:
    """Relay ``signals`` to channel ``c`` from now on; all catchable ones if none is given.

    Go's signal.Notify. Each arrival is sent on ``c`` as a ``signal.Signals``
    without blocking: when ``c`` is full (or unbuffered with no receiver
    ready), that arrival is dropped, so give ``c`` a buffer (1 is enough for
    one signal). Calling it again with the same channel adds signals;
    several channels may want one signal, and each gets its own copy.
    While a channel wants a signal, the process's handler for it is
    offset's dispatcher, which also calls the Python handler the program
    had on it (see the module's docstring).

    Args:
        c: the channel (``offset.makechan(1)``).
        *signals: signal numbers (``signal.SIGINT``...). None: every signal
            a program can catch but SIGSEGV, SIGBUS, SIGFPE and SIGILL, and
            those whose handler was installed from C.

    Raises:
        PanicError: ``c`` is None ("os/signal: Notify using nil channel").
        TypeError: ``c`` is not a channel, or a signal is not an int.
        ValueError: a signal number is out of range ("signal number out of
            range"), or this is not the main thread ("signal only works in
            main thread of the main interpreter").
        OSError: a signal cannot be caught (SIGKILL, SIGSTOP: EINVAL).
    """
    signal_notify(c, signals)


def stop(c: Chan[Any]) -> None:
    """Stop relaying signals to ``c``; once it returns, ``c`` gets no more.

    Go's signal.Stop. Signals the dispatcher caught before the call still
    reach ``c``. A signal no channel wants any more gets the handler the
    program had on it before ``notify`` again. A channel that was never
    passed to ``notify`` (or None) is left as it is.

    Raises:
        TypeError: ``c`` is not a channel.
        ValueError: ``c`` wants signals and this is not the main thread.
    """
    signal_stop(c)


def ignore(*signals: int) -> None:
    """Ignore ``signals`` (SIG_IGN); all catchable ones if none is given.

    Go's signal.Ignore: it undoes ``notify`` for these signals (no channel
    gets them any more). ``reset`` puts back the handler the program had.
    With no signals, SIGCHLD is left out too (see the module's docstring).

    Raises:
        TypeError: a signal is not an int.
        ValueError: a signal number is out of range, or this is not the
            main thread.
        OSError: a signal cannot be caught (SIGKILL, SIGSTOP: EINVAL).
    """
    signal_ignore(signals)


def reset(*signals: int) -> None:
    """Undo ``notify`` and ``ignore`` for ``signals``; for every signal they changed if none is given.

    Go's signal.Reset. No channel gets these signals any more, and each
    gets the handler the program had on it before this module changed it
    (Go: the handler at program start). A signal this module never
    changed is left as it is.

    Raises:
        TypeError: a signal is not an int.
        ValueError: a signal number is out of range, or this is not the
            main thread.
    """
    signal_reset(signals)


def ignored(sig: int) -> bool:
    """Whether ``sig`` is ignored now (its handler is SIG_IGN).

    Go's signal.Ignored: true after ``ignore(sig)``, or when the program
    was started with ``sig`` ignored (``nohup``) and nothing changed it.
    Any thread may ask.

    Raises:
        TypeError: ``sig`` is not an int.
        ValueError: ``sig`` is out of range.
    """
    return signal_ignored(sig)
