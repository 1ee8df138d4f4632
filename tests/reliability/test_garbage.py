"""No reference cycles per operation: what an operation makes is freed by refcounting.

CPython frees an object the moment its last reference goes, unless it sits
in a reference cycle: then it waits for the cyclic GC, and if it outlived a
young collection (a goroutine parked across one), for the rare old one. A
cycle made by every wait of a long-running server piles up in the old
generation between those collections and grows its heap: the echo soak
(issue 13) found one, the netpoller's waiter pointing at itself as its own
lead, one cycle per I/O wait (with the goroutine it held).

Each operation below runs 50 times patched, in a fresh interpreter, with
the cyclic GC off and ``gc.DEBUG_SAVEALL`` on; ``gc.collect()`` must then
find nothing: every object the operations made was freed as it went.
"""

from __future__ import annotations

from patches.conftest import run_child

GARBAGE = """
import child; child.start()
import gc, queue, selectors, socket, threading, time
from collections import Counter
import offset
offset.patch_all()
import select
from offset import go, makechan, select as oselect
from offset import time as otime
from offset.sync import Mutex, WaitGroup

def chans():
    a, b = makechan(), makechan()
    def echo():
        for _ in range(10):
            b.send(a.recv())
    go(echo)
    for i in range(10):
        a.send(i)
        b.recv()

def select_blocking():
    cs = [makechan() for _ in range(3)]
    def producer(c):
        for i in range(5):
            c.send(i)
    for c in cs:
        go(producer, c)
    for _ in range(15):
        oselect(*(c.if_recv() for c in cs))

def sleeps():
    time.sleep(0.0001)
    otime.sleep(100 * otime.MICROSECOND)

def timers():
    t = otime.Timer(otime.HOUR)
    t.stop()
    otime.After(otime.MICROSECOND).recv()
    fired = makechan(1)
    otime.AfterFunc(otime.MICROSECOND, lambda: fired.send(None))
    fired.recv()

def socket_waits():
    a, b = socket.socketpair()
    def peer():
        b.recv(10)
        b.sendall(b"y")
    go(peer)
    time.sleep(0)
    a.sendall(b"x")
    a.recv(1)
    a.close()
    b.close()

def socket_timeout():
    a, b = socket.socketpair()
    a.settimeout(0.001)
    try:
        a.recv(1)
    except TimeoutError:
        pass
    a.close()
    b.close()

def socket_sendall_blocks():
    a, b = socket.socketpair()
    data = b"x" * (1 << 20)  # more than a socketpair's buffers: sendall waits
    done = makechan()
    def reader():
        k = 0
        while k < len(data):
            k += len(b.recv(65536))
        done.send(None)
    go(reader)
    a.sendall(data)
    done.recv()
    a.close()
    b.close()

def select_select():
    a, b = socket.socketpair()
    go(lambda: b.send(b"x"))
    select.select([a], [], [], 1)
    a.close()
    b.close()

def selectors_select():
    a, b = socket.socketpair()
    with selectors.DefaultSelector() as sel:
        sel.register(a, selectors.EVENT_READ)
        go(lambda: b.send(b"x"))
        sel.select(1)
    a.close()
    b.close()

def locks():
    lock, mutex, wg = threading.Lock(), Mutex(), WaitGroup()
    lock.acquire()
    def contender():
        with lock:
            pass
        mutex.lock()
        mutex.unlock()
        wg.done()
    wg.add(1)
    go(contender)
    time.sleep(0)
    lock.release()
    wg.wait()

def condition():
    cond, done = threading.Condition(threading.RLock()), []
    def notifier():
        with cond:
            done.append(1)
            cond.notify()
    with cond:
        go(notifier)
        cond.wait_for(lambda: done)

def queues():
    q = queue.Queue()
    go(lambda: q.put(1))
    q.get()

def threads():
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()

def events():
    e = threading.Event()
    go(e.set)
    e.wait()

OPS = [chans, select_blocking, sleeps, timers, socket_waits, socket_timeout, socket_sendall_blocks,
       select_select, selectors_select, locks, condition, queues, threads, events]

def main():
    found = {}
    for op in OPS:
        op()
        op()  # caches and first-use state made
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(50):
                op()
            gc.collect()
        finally:
            gc.set_debug(0)
            gc.enable()
        found[op.__name__] = sorted(Counter(type(o).__name__ for o in gc.garbage).items())
        gc.garbage.clear()
    return found

child.report(offset.run(main))
"""


def test_no_operation_leaves_a_reference_cycle() -> None:
    found = run_child(GARBAGE, timeout=90.0)
    assert {op: types for op, types in found.items() if types} == {}
    assert len(found) == 14
