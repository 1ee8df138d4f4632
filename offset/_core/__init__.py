"""offset's private runtime. The public modules (offset.time, offset.sync,
offset.context, offset.errgroup, offset.patches) are built only on the names
exported here; nothing outside _core imports a _core submodule directly.
"""

from . import _waitreason as waitreason  # noqa: F401 (re-exported: the wait reasons)
from ._chan import Case as Case
from ._chan import Chan as Chan
from ._chan import RecvCase as RecvCase
from ._chan import SelectState as SelectState
from ._chan import SendCase as SendCase
from ._chan import Waiter as Waiter
from ._chan import chanlock as chanlock
from ._chan import chanrecv as chanrecv
from ._chan import chansend as chansend
from ._chan import makechan as makechan
from ._errors import DeadlockError as DeadlockError
from ._errors import GoroutineExit as GoroutineExit
from ._errors import InternalError as InternalError
from ._errors import PanicError as PanicError
from ._greenlet import Proc as Proc
from ._greenlet import getcurrent as getcurrent
from ._io import mark_drained as mark_drained
from ._io import notify_close as notify_close
from ._io import wait_fd as wait_fd
from ._io import wait_fds as wait_fds
from ._io import wait_quiet as wait_quiet
from ._netpoll import FdWaiter as FdWaiter
from ._netpoll import Netpoll as Netpoll
from ._sched import G as G
from ._sched import Scheduler as Scheduler
from ._sched import ThreadParker as ThreadParker
from ._sched import call_signal_handler as call_signal_handler
from ._sched import current_goroutine as current_goroutine
from ._sched import current_parker as current_parker
from ._sched import current_scheduler as current_scheduler
from ._sched import go as go
from ._sched import gosched as gosched
from ._sched import maintask as maintask
from ._sched import run as run
from ._sched import sleep_ns as sleep_ns
from ._select import Default as Default
from ._select import default as default
from ._select import select as select
from ._sema import SERVED as SERVED
from ._sema import LockBase as LockBase
from ._sema import MutexBase as MutexBase
from ._sema import Parker as Parker
from ._sema import Sudog as Sudog
from ._sema import WaitQueue as WaitQueue
from ._signal import DISPATCH as DISPATCH
from ._signal import NOT_HELD as NOT_HELD
from ._signal import WrappedHandler as WrappedHandler
from ._signal import program_handler as program_handler
from ._signal import set_handler_wrapping as set_handler_wrapping
from ._signal import set_program_handler as set_program_handler
from ._signal import signal_ignore as signal_ignore
from ._signal import signal_ignored as signal_ignored
from ._signal import signal_notify as signal_notify
from ._signal import signal_reset as signal_reset
from ._signal import signal_stop as signal_stop
from ._syscall import blocking_call as blocking_call
from ._syscall import syscall as syscall
from ._time import Timer as Timer
from ._time import call_after as call_after
from ._time import duration as duration
