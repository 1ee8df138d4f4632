"""A gunicorn worker that serves each connection in a goroutine.

What: ``gunicorn -k offset.gunicorn.Worker app:app``. One worker process
runs one offset scheduler; every accepted connection is handled in a
goroutine of its own, and the standard library is patched
(``offset.patch_all()``) before the application is imported, so a handler
that waits (a database query, an HTTP call to another service,
``time.sleep``) parks only its goroutine while the worker serves the
others. It is what ``-k gevent`` is for gevent. Scale out with ``-w N``
workers, one per core (see the README, "Running under gunicorn").

gunicorn is imported by this module only: offset itself does not need it.

How a worker runs (after the arbiter forks it):

1. ``init_process``: ``patch()`` (``offset.patch_all()``), then gunicorn's
   own ``init_process``, which sets the signal handlers (``init_signals``
   below), imports the application (``load_wsgi``), runs the
   ``post_worker_init`` hook and calls ``run()``. So the app is imported
   patched, and an app that fails to import ends the worker with the exit
   status the arbiter knows from its own workers (``Worker failed to
   boot``, ``App failed to load``).
2. ``run()`` calls ``offset.run`` with the worker's main goroutine
   (``_main``), which starts one accept loop goroutine per listening
   socket and then waits, in a ``select``, for a signal, a tick of the
   heartbeat ticker or the word that ``alive`` went False.
3. An accept loop takes a slot of ``worker_connections`` (a send on the
   buffered channel ``slots``: it blocks while the worker is full, so
   connections wait in the kernel's backlog, or go to another worker) and
   then accepts (the patched ``accept`` parks in the netpoller). Each
   connection goroutine runs gunicorn's ``AsyncWorker.handle``: its HTTP
   parser, keep-alive loop, WSGI environ and response, error pages and
   access log, as the gevent worker does; then it gives its slot back.
   With TLS configured, the handshake is made first, in that goroutine.
4. Stopping. Graceful (SIGTERM, ``max_requests`` reached, the arbiter gone):
   close ``stop`` and the listening sockets (the accept loops end), then
   wait for the connection goroutines to finish, for ``graceful_timeout``
   seconds at most; requests in flight complete, and a kept-alive
   connection is answered ``Connection: close`` at its next request (or
   closed after ``keepalive`` seconds idle). What is still running then is
   stopped: ``_main`` returns and ``offset.run`` stops every goroutine left
   (their ``finally`` blocks close the sockets). At once (SIGQUIT, SIGINT):
   the ``worker_int`` hook, then ``_main`` returns.

Signals. The worker's signals arrive on a channel (``offset.signal.notify``,
Go's ``os/signal``), read by the main goroutine: SIGTERM stops gracefully,
SIGQUIT and SIGINT at once, SIGUSR1 reopens the log files. No handler
runs in the middle of a goroutine's code, and the main goroutine wakes
the moment a signal arrives. SIGABRT, which the arbiter sends to a worker
that missed its heartbeat, keeps gunicorn's Python handler: it runs where
the worker is stuck (the ``worker_abort`` hook sees that goroutine's
stack) and its ``SystemExit(1)`` ends the worker. The relayed signals
stay on their channel until the process has exited (a second SIGTERM
while the worker stops is dropped, not the default action that kills).

Heartbeat. The main goroutine calls ``notify()`` on every tick of an
``offset.time.Ticker`` (every second, or more often for a shorter
``--timeout``), so a worker busy with many slow requests is not killed.
A goroutine that holds the scheduler's thread longer than ``--timeout``
(CPU-bound work, a blocking C call the patches do not cover) stops the
ticks too, and the arbiter kills that worker, as it would a blocked sync
worker: move such work to a ``ProcessPoolExecutor`` or
``offset.syscall``.

Invariants:

- ``len(slots)`` is the number of connections open, plus one for each
  accept loop waiting in ``accept`` (it holds the slot of the connection
  it is about to take), so at most ``worker_connections`` connections are
  open at once. ``conns`` counts the connection goroutines not finished,
  for the graceful wait.
- ``stop`` is closed before the listening sockets are: an accept loop that
  finds ``accept`` failing (the socket closed under it) looks at ``stop``
  and ends quietly; any other failure of ``accept`` it cannot retry ends
  the worker with the exception (the arbiter starts another).
- A connection goroutine never lets an exception out (gunicorn's
  ``handle`` turns each into an error page or a log line), except
  ``GoroutineExit`` when the worker stops it: an exception escaping a
  goroutine would end ``offset.run`` and the worker.
- ``alive`` going False from anywhere (the main goroutine, a connection
  goroutine at ``max_requests``, gunicorn's reloader thread) sends on
  ``_wake`` without blocking, so the main goroutine notices at once.

Rejected designs:

- gunicorn's Python signal handlers (``handle_exit``, ``handle_quit``) as
  the base worker installs them: they run wherever the main thread is, in
  any goroutine, and ``handle_quit`` sleeps and raises ``SystemExit`` there
  (gevent's worker moves them into a greenlet for that reason). A channel
  gives the main goroutine the signal as a value, in its own code.
- A keep-alive timeout that interrupts the goroutine (gevent's
  ``gevent.Timeout`` around reading the next request): the socket's own
  timeout does the same in the patched ``recv`` and raises where the read
  is, which ``timeout_ctx`` turns into the end of the connection. It
  bounds each wait for data rather than the whole request line and
  headers, as gthread's keep-alive poll does.
- Polling ``alive`` once a second, as the gevent and gthread workers do:
  a worker at ``max_requests`` would keep serving for up to a second.
- An ``offset.sync.Semaphore`` for ``worker_connections``: its
  ``acquire`` cannot be one case of a ``select`` with ``stop``; a
  buffered channel can, Go's idiom for a counting semaphore.
"""

from __future__ import annotations

import contextvars
import errno
import os
import signal
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

try:
    from gunicorn import sock as _gsock
    from gunicorn import util as _gutil
    from gunicorn.workers.base_async import AsyncWorker
except ImportError as e:  # pragma: no cover - the import error names what is missing
    raise ImportError(f"offset.gunicorn needs gunicorn 23 or later (pip install gunicorn): {e}") from e

from . import patch_all, sync
from . import signal as _osignal
from . import time as _time
from ._core import Case, Chan, GoroutineExit, default, go, makechan, run, select

__all__ = ["Worker"]

# Signals that reach the main goroutine on its channel, and what each does.
_GRACEFUL = signal.SIGTERM
_AT_ONCE = (signal.SIGQUIT, signal.SIGINT)
_REOPEN_LOGS = signal.SIGUSR1
_RELAYED = (_GRACEFUL, *_AT_ONCE, _REOPEN_LOGS)

# The longest time between two heartbeats (seconds); a shorter --timeout
# makes them more frequent.
_HEARTBEAT = 1.0
# accept() failing for want of resources (file descriptors, buffers) is
# retried after a pause that doubles from the first to the last, as Go's
# http.Server does (net/http/server.go, Serve).
_ACCEPT_BACKOFF = (0.005, 1.0)
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# accept() failing for this one connection only: the next one is fine.
_RETRY_ERRNOS = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED, errno.EPROTO, errno.EINTR})
# A client that went away; not worth more than a debug line.
_GONE_ERRNOS = frozenset({errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN})

# The connection the running goroutine serves, for timeout_ctx (each
# goroutine runs in its own copy of the context).
_client: contextvars.ContextVar[Any] = contextvars.ContextVar("offset_gunicorn_client")


def _closed(c: Chan[Any]) -> bool:
    """Whether channel ``c``, never sent on, has been closed."""
    return select(c.if_recv(), default) is not default


class Worker(AsyncWorker):  # type: ignore[misc]  # gunicorn has no type information
    """gunicorn's worker class for offset: ``gunicorn -k offset.gunicorn.Worker``.

    Every accepted connection is served in a goroutine by gunicorn's own
    HTTP code (``AsyncWorker.handle``), with the standard library patched
    before the application is imported. gunicorn's settings keep their
    meaning: ``worker_connections`` caps the connections open at once,
    ``keepalive`` is how long a kept-alive connection may wait for its next
    request, ``max_requests`` (plus up to ``max_requests_jitter``) restarts
    the worker gracefully, ``graceful_timeout`` bounds a graceful stop,
    ``timeout`` is the heartbeat the arbiter expects. See the module's
    docstring for how it runs.

    Subclass to change what is patched::

        class Worker(offset.gunicorn.Worker):
            def patch(self):
                offset.patch_all(subprocess=False)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._wake: Chan[None] | None = None
        self._signals: Chan[Any] | None = None
        super().__init__(*args, **kwargs)

    # -- alive: False wakes the main goroutine ---------------------------

    @property
    def alive(self) -> bool:
        """Whether the worker keeps accepting; set False to stop it gracefully."""
        return self._alive

    @alive.setter
    def alive(self, value: bool) -> None:
        self._alive = value
        wake = self._wake
        if not value and wake is not None:
            select(wake.if_send(None), default)  # one pending wake-up is enough

    # -- boot ---------------------------------------------------------------

    def patch(self) -> None:
        """Patch the standard library; called first in the worker process, before the app is imported."""
        patch_all()

    def init_process(self) -> None:
        """Patch, then gunicorn's boot: signals, the app, ``post_worker_init``, ``run()``."""
        self.patch()
        self._wake = makechan(1)
        super().init_process()

    def init_signals(self) -> None:
        """gunicorn's worker signals, SIGTERM, SIGQUIT, SIGINT and SIGUSR1 on a channel."""
        for s in self.SIGNALS:
            signal.signal(s, signal.SIG_DFL)
        signal.signal(signal.SIGWINCH, self.handle_winch)
        # The one signal that must act while the worker is stuck (see the module's docstring).
        signal.signal(signal.SIGABRT, self.handle_abort)
        self._signals = makechan(len(_RELAYED))
        _osignal.notify(self._signals, *_RELAYED)

    def run(self) -> None:
        """Serve until stopped: the scheduler runs in this process's main thread."""
        for listener in self.sockets:
            listener.setblocking(True)  # the patched accept parks; a non-blocking one would raise
        run(self._main)

    # -- the main goroutine ------------------------------------------------

    def _heartbeat(self) -> float:
        # self.timeout is the arbiter's --timeout halved already.
        return min(_HEARTBEAT, self.timeout) if self.timeout > 0 else _HEARTBEAT

    def _main(self) -> None:
        sigc = self._signals
        wake = self._wake
        assert sigc is not None and wake is not None, "init_process makes them"
        ticker = _time.Ticker(int(self._heartbeat() * _time.SECOND))
        stop: Chan[None] = makechan()
        slots: Chan[None] = makechan(self.worker_connections)
        conns = sync.WaitGroup()
        try:
            for listener in self.sockets:
                go(self._accept_loop, listener, slots, stop, conns)
            while self.alive:
                self.notify()
                ret = select(sigc.if_recv(), wake.if_recv(), ticker.c.if_recv())
                if isinstance(ret, Case) and ret == sigc.if_recv() and self._on_signal(ret.value):
                    return
                if self.alive and self.ppid != os.getppid():
                    self.log.info("Parent changed, shutting down: %s", self)
                    self.alive = False
            self._drain(stop, conns, ticker)
        finally:
            # The signals stay on their channel (dropped now that nobody
            # reads it) until the process has exited: SIG_DFL back would
            # let the arbiter's SIGTERM kill a worker on its way out.
            ticker.stop()

    def _on_signal(self, sig: int) -> bool:
        """Act on a signal; True: stop at once."""
        if sig in _AT_ONCE:
            self.alive = False
            self.cfg.worker_int(self)
            return True
        if sig == _GRACEFUL:
            self.alive = False
        elif sig == _REOPEN_LOGS:
            self.log.reopen_files()
        return False

    def _drain(self, stop: Chan[None], conns: sync.WaitGroup, ticker: _time.Ticker) -> None:
        """The graceful stop: no more accepting; in-flight connections get ``graceful_timeout``."""
        stop.close()
        for listener in self.sockets:
            listener.close()  # wakes an accept loop parked in accept()
        done: Chan[None] = makechan()

        def wait_conns() -> None:
            conns.wait()
            done.close()

        go(wait_conns)
        sigc = self._signals
        assert sigc is not None
        expired = _time.After(int(self.cfg.graceful_timeout * _time.SECOND))
        while True:
            self.notify()
            ret = select(done.if_recv(), expired.if_recv(), sigc.if_recv(), ticker.c.if_recv())
            if ret == done.if_recv():
                return
            if ret == expired.if_recv():
                self.log.warning("Worker graceful timeout (pid:%s)", self.pid)
                return
            if isinstance(ret, Case) and ret == sigc.if_recv() and self._on_signal(ret.value):
                return

    # -- accepting -----------------------------------------------------------

    def _accept_loop(self, listener: Any, slots: Chan[None], stop: Chan[None], conns: sync.WaitGroup) -> None:
        """Accept connections on ``listener`` while a slot is free, until ``stop`` is closed."""
        backoff = 0.0
        while True:
            if select(slots.if_send(None), stop.if_recv()) == stop.if_recv():
                return
            try:
                client, addr = listener.accept()
            except OSError as e:
                slots.recv()
                if _closed(stop):
                    return  # the listener was closed under us: stopping
                if e.errno in _RETRY_ERRNOS:
                    continue
                if e.errno not in _RESOURCE_ERRNOS:
                    raise
                lo, hi = _ACCEPT_BACKOFF
                backoff = min(hi, backoff * 2) if backoff else lo
                self.log.error("accept() failed: %s; retrying in %d ms", e, backoff * 1000)
                _time.sleep(int(backoff * _time.SECOND))
                continue
            backoff = 0.0
            conns.add(1)
            go(self._connection, listener, client, addr, slots, conns)

    def _connection(
        self, listener: Any, client: socket.socket, addr: Any, slots: Chan[None], conns: sync.WaitGroup
    ) -> None:
        try:
            self.handle(listener, client, addr)
        finally:
            slots.recv()
            conns.done()

    # -- one connection --------------------------------------------------------

    def handle(self, listener: Any, client: socket.socket, addr: Any) -> None:
        """Serve one connection to its end (gunicorn's ``AsyncWorker.handle``), in its goroutine."""
        client.setblocking(True)
        if self.cfg.is_ssl:
            wrapped = self._wrap_ssl(client, addr)
            if wrapped is None:
                return
            client = wrapped
        _client.set(client)
        super().handle(listener, client, addr)

    def _wrap_ssl(self, client: socket.socket, addr: Any) -> ssl.SSLSocket | None:
        """``client`` with its TLS handshake done, or None (the failure handled as the sync worker does)."""
        try:
            wrapped: ssl.SSLSocket = _gsock.ssl_wrap_socket(client, self.cfg)
            return wrapped
        except ssl.SSLError as e:
            if e.args[0] == ssl.SSL_ERROR_EOF:
                self.log.debug("ssl connection closed")
            else:
                self.log.debug("Error processing SSL request.")
                self.handle_error(None, client, addr, e)
        except OSError as e:
            if e.errno in _GONE_ERRNOS:
                self.log.debug("Ignoring %s during the TLS handshake", errno.errorcode.get(e.errno or 0, e))
            else:
                self.log.exception("Socket error during the TLS handshake.")
        _gutil.close(client)
        return None

    def timeout_ctx(self) -> Any:
        """Around reading the next request of a kept-alive connection: ``keepalive`` seconds at most."""
        return self._keepalive_wait()

    @contextmanager
    def _keepalive_wait(self) -> Iterator[None]:
        client = _client.get(None)
        if client is None:  # pragma: no cover - handle() always sets it
            yield
            return
        client.settimeout(self.cfg.keepalive)
        try:
            yield
        except TimeoutError:
            pass  # no request within keepalive: the connection ends (AsyncWorker.handle sees no request)
        finally:
            try:
                client.settimeout(None)
            except OSError:
                pass  # closed meanwhile

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """gunicorn's error page, except for the worker stopping this goroutine, which goes on up."""
        if isinstance(exc, GoroutineExit):
            raise exc
        super().handle_error(req, client, addr, exc)
