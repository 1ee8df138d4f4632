"""Why a goroutine is parked: one set of names, Go's where Go has one.

What: every ``park`` in offset passes one of these constants; they are what
a goroutine's ``reason`` shows in deadlock reports (and in dumps), so a
reader sees ``[chan receive]`` as in a Go traceback. The strings are Go's
(runtime/runtime2.go, ``waitReasonStrings``) for what Go also has; the
others name the Python call the goroutine waits in.

Invariant: a parked goroutine's ``reason`` is one of these, never a string
written at the call site, so two spellings of one wait cannot drift apart
(dumps and ``offset.stats()`` group goroutines by reason).
"""

from __future__ import annotations

from typing import Final

# Channels and select (Go's names).
CHAN_RECEIVE: Final = "chan receive"
CHAN_SEND: Final = "chan send"
SELECT: Final = "select"
SELECT_NO_CASES: Final = "select (no cases)"

# The scheduler itself.
SLEEP: Final = "sleep"
IO_WAIT: Final = "IO wait"
SYSCALL: Final = "syscall"  # a blocking call on the thread pool
RUN: Final = "run (waiting for goroutines)"  # run()'s main waiting for the rest
GOSCHED: Final = "gosched"  # runnable again: yielded, not parked

# offset.sync (Go's names).
SYNC_MUTEX_LOCK: Final = "sync.Mutex.Lock"
SYNC_RWMUTEX_RLOCK: Final = "sync.RWMutex.RLock"
SYNC_RWMUTEX_LOCK: Final = "sync.RWMutex.Lock"
SYNC_WAITGROUP_WAIT: Final = "sync.WaitGroup.Wait"
SYNC_COND_WAIT: Final = "sync.Cond.Wait"
SEMACQUIRE: Final = "semacquire"

# The patched stdlib (the call the goroutine waits in).
THREADING_LOCK: Final = "threading.Lock"
THREADING_RLOCK: Final = "threading.RLock"
QUEUE_GET: Final = "queue.SimpleQueue.get"
