"""Hypothesis against a reference model of channels and select.

Three parts:

1. ``test_random_programs``: hypothesis writes small programs (a few
   channels of capacity 0-2, a few goroutines each running a random script
   of send, recv, select, non-blocking tries, drains and gosched, and
   goroutines that close channels) and runs them. Whatever the interleaving
   and whether or not the program deadlocks, the model must hold: every
   value received was sent exactly once and on that channel, each receiver
   sees one sender's values on one channel in send order, nothing sent is
   lost (it was received or is still buffered, also after close), and a
   DeadlockError is only raised when no blocked operation could proceed.
2. ``test_producers_consumers_with_close``: programs that cannot deadlock
   (producers, then a close once all are done, consumers that select until
   every channel is closed) must finish and deliver everything.
3. ``ChannelMachine``: a RuleBasedStateMachine for the operations that do
   not block (buffered sends with room, non-blocking select, close, drains
   of closed channels), checked step by step against a deque per channel.

Sizes are bounded (max_examples 60-100, deadline=None) so the file runs in
a few seconds.
"""

from __future__ import annotations

from collections import Counter, deque

import hypothesis.strategies as st
from hypothesis import HealthCheck, event, given, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from support import settle

from offset import DeadlockError, PanicError, default, go, gosched, makechan, run, select

TRIES = 20  # non-blocking attempts (with gosched between) before giving up

# -- 1. random programs -----------------------------------------------------------------


def op_strategy(nchan: int) -> st.SearchStrategy[tuple]:
    ch = st.integers(0, nchan - 1)
    select_case = st.one_of(st.none(), st.tuples(st.sampled_from(["send", "recv"]), ch))
    # Sends and receives come up twice as often as the rest, so that most
    # programs move values rather than only block.
    return st.one_of(
        st.tuples(st.just("send"), ch),
        st.tuples(st.just("send"), ch),
        st.tuples(st.just("recv"), ch),
        st.tuples(st.just("recv"), ch),
        st.tuples(st.just("select"), st.lists(select_case, max_size=3), st.booleans()),
        st.tuples(st.just("try_send"), ch),
        st.tuples(st.just("try_recv"), ch),
        st.tuples(st.just("select"), st.lists(select_case, max_size=3), st.booleans()),
        st.tuples(st.just("drain"), ch),
        st.tuples(st.just("gosched")),
    )


@st.composite
def programs(draw):
    caps = draw(st.lists(st.integers(0, 2), min_size=1, max_size=3))
    n = len(caps)
    scripts = draw(st.lists(st.lists(op_strategy(n), min_size=1, max_size=8), min_size=2, max_size=5))
    # Closers: (channel, how many gosched before closing). A channel may be
    # closed twice, which must panic with "close of closed channel".
    closers = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 15)), max_size=2))
    return caps, scripts, closers


class Run:
    """What one program did, recorded from inside its goroutines."""

    def __init__(self, caps):
        self.caps = caps
        self.chans = [makechan(c) for c in caps]
        self.sent: dict[tuple, int] = {}  # value -> channel index, for completed sends
        self.received: dict[int, list[tuple]] = {}  # goroutine -> [(value, channel)]
        self.pending: dict[int, list[tuple[str, int]]] = {}  # goroutine -> ops it blocks on
        self.finished: set[int] = set()
        self.close_panics = 0
        self.closed_by_closers: set[int] = set()

    # Each goroutine's values are (gid, seq) with seq increasing in program order.
    def script(self, gid, ops):
        seq = 0
        got = self.received.setdefault(gid, [])
        chans = self.chans
        for op in ops:
            kind = op[0]
            if kind == "gosched":
                check_queues(chans)
                gosched()
            elif kind == "send":
                v, seq = (gid, seq), seq + 1
                self.pending[gid] = [("send", op[1])]
                try:
                    chans[op[1]].send(v)
                except PanicError as e:
                    assert str(e) == "send on closed channel"
                else:
                    self.sent[v] = op[1]
                del self.pending[gid]
            elif kind == "recv":
                self.pending[gid] = [("recv", op[1])]
                v, ok = chans[op[1]].recv_ok()
                del self.pending[gid]
                if ok:
                    got.append((v, op[1]))
            elif kind == "drain":
                self.pending[gid] = [("recv", op[1])]
                for v in chans[op[1]]:
                    got.append((v, op[1]))
                del self.pending[gid]
            elif kind == "try_send":
                v, seq = (gid, seq), seq + 1
                for _ in range(TRIES):
                    try:
                        ret = select(chans[op[1]].if_send(v), default)
                    except PanicError as e:
                        assert str(e) == "send on closed channel"
                        break
                    if ret is not default:
                        self.sent[v] = op[1]
                        break
                    gosched()
            elif kind == "try_recv":
                for _ in range(TRIES):
                    ret = select(chans[op[1]].if_recv(), default)
                    if ret is not default:
                        if ret.ok:
                            got.append((ret.value, op[1]))
                        break
                    gosched()
            elif kind == "select":
                _, spec, with_default = op
                cases, meaning = [], {}
                for entry in spec:
                    if entry is None:
                        cases.append(None)
                        continue
                    what, i = entry
                    if what == "send":
                        v, seq = (gid, seq), seq + 1
                        case = chans[i].if_send(v)
                    else:
                        case = chans[i].if_recv()
                    meaning[id(case)] = (what, i, case)
                    cases.append(case)
                if with_default:
                    cases.append(default)
                self.pending[gid] = [(what, i) for what, i, _ in meaning.values()]
                try:
                    ret = select(*cases)
                except PanicError as e:
                    assert str(e) == "send on closed channel"
                    del self.pending[gid]
                    continue
                del self.pending[gid]
                if ret is default:
                    assert with_default
                    continue
                assert id(ret) in meaning, f"select returned a case it was not given: {ret!r}"
                what, i, case = meaning[id(ret)]
                if what == "send":
                    self.sent[case.value] = i
                elif ret.ok:
                    got.append((ret.value, i))
        self.finished.add(gid)

    def closer(self, ch, delay):
        for _ in range(delay):
            gosched()
        try:
            self.chans[ch].close()
        except PanicError as e:
            assert str(e) == "close of closed channel"
            self.close_panics += 1
        self.closed_by_closers.add(ch)


def queue_of(q):
    """The waiters of a channel's WaitQ, first to last, checked link by link."""
    if q is None:
        return []
    waiters = []
    prev = None
    w = q._first
    while w is not None:
        assert w.prev is prev, f"{w!r}.prev is {w.prev!r}, not the waiter before it"
        assert len(waiters) < 1000, "a cycle in a wait queue"
        waiters.append(w)
        prev, w = w, w.next
    assert q._last is prev, f"the queue's last is {q._last!r}, not its tail {prev!r}"
    return waiters


def check_queues(chans):
    """Every wait queue is well linked, and no waiter is in two places.

    Appending to a queue relies on a waiter that is in none having ``next``
    and ``prev`` None (WaitQ): a way out that left a link behind would
    show here as a waiter in two queues, or as a broken chain.
    """
    seen = set()
    for c in chans:
        for q in (c, c._sendq):
            for w in queue_of(q):
                assert id(w) not in seen, f"{w!r} is queued twice"
                seen.add(id(w))


def drain_now(c):
    """Take what is buffered without blocking; return (values, closed)."""
    values = []
    while True:
        ret = select(c.if_recv(), default)
        if ret is default:
            return values, False
        if not ret.ok:
            return values, True
        values.append(ret.value)


def check_delivery(r: Run, leftovers: list[list]):
    delivered = [v for got in r.received.values() for v, _ in got]
    delivered += [v for left in leftovers for v in left]
    counts = Counter(delivered)
    duplicated = {v: n for v, n in counts.items() if n > 1}
    assert not duplicated, f"values delivered more than once: {duplicated}"
    never_sent = set(counts) - set(r.sent)
    assert not never_sent, f"values received that no completed send sent: {never_sent}"
    lost = set(r.sent) - set(counts)
    assert not lost, f"values sent but neither received nor buffered: {lost}"
    for _gid, got in r.received.items():
        for v, ch in got:
            assert r.sent[v] == ch, f"{v} sent on channel {r.sent[v]} but received on {ch}"
    # FIFO per sender and channel: within each receiver, and the leftovers
    # come after everything received.
    last_taken: dict[tuple[int, int], int] = {}
    for got in r.received.values():
        seen: dict[tuple[int, int], int] = {}
        for (sender, seq), ch in got:
            key = (sender, ch)
            assert seq > seen.get(key, -1), f"receiver saw sender {sender}'s values out of order on channel {ch}"
            seen[key] = seq
            last_taken[key] = max(last_taken.get(key, -1), seq)
    for ch, left in enumerate(leftovers):
        prev: dict[int, int] = {}
        for sender, seq in left:
            assert seq > prev.get(sender, -1)
            assert seq > last_taken.get((sender, ch), -1), "a buffered value was overtaken"
            prev[sender] = seq


def check_deadlock_is_real(r: Run, lengths: list[int], closed: list[bool]):
    """A DeadlockError is right only if no blocked operation could proceed."""
    for gid, ops in r.pending.items():
        for what, ch in ops:
            others = [op for g, pending in r.pending.items() if g != gid for op in pending]
            if what == "recv":
                assert not closed[ch], f"goroutine {gid} blocked in receive on closed channel {ch}"
                assert lengths[ch] == 0, f"goroutine {gid} blocked in receive on non-empty channel {ch}"
                assert ("send", ch) not in others, f"goroutine {gid} receive and a send on channel {ch} both blocked"
            else:
                assert not closed[ch], f"goroutine {gid} blocked in send on closed channel {ch}"
                assert lengths[ch] == r.caps[ch], f"goroutine {gid} blocked in send on channel {ch} with room"
                assert ("recv", ch) not in others, f"goroutine {gid} send and a receive on channel {ch} both blocked"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_programs(program):
    caps, scripts, closers = program
    r = Run(caps)
    for gid, ops in enumerate(scripts):
        go(r.script, gid, ops)
    for ch, delay in closers:
        go(r.closer, ch, delay)
    deadlocked = False
    try:
        run()
    except DeadlockError as e:
        deadlocked = True
        assert str(e).startswith("all goroutines are asleep - deadlock!\n")
    # Every goroutine has ended or was stopped: each left its queues.
    assert [(queue_of(c), queue_of(c._sendq)) for c in r.chans] == [([], [])] * len(caps)
    lengths = [len(c) for c in r.chans]
    assert all(0 <= n <= cap for n, cap in zip(lengths, caps))
    drained = [drain_now(c) for c in r.chans]
    leftovers = [values for values, _ in drained]
    closed = [is_closed for _, is_closed in drained]
    assert [len(v) for v in leftovers] == lengths
    assert {i for i, c in enumerate(closed) if c} == r.closed_by_closers
    assert r.close_panics == len(closers) - len(r.closed_by_closers)
    check_delivery(r, leftovers)
    event("deadlocked" if deadlocked else "ran to completion")
    event(f"values delivered: {min(len(r.sent), 10)}{'+' if len(r.sent) >= 10 else ''}")
    if deadlocked:
        assert r.pending, "DeadlockError while no goroutine was blocked"
        assert set(r.pending) | r.finished == set(range(len(scripts)))
        check_deadlock_is_real(r, lengths, closed)
    else:
        assert r.finished == set(range(len(scripts)))
        assert not r.pending


# -- 2. programs that must not deadlock ---------------------------------------------------


@st.composite
def pipelines(draw):
    caps = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
    n = len(caps)
    producers = draw(
        st.lists(
            st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from(["send", "select", "gosched"])), max_size=10),
            min_size=1,
            max_size=4,
        )
    )
    consumers = draw(st.lists(st.sampled_from(["select", "select_gosched"]), min_size=1, max_size=3))
    return caps, producers, consumers


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pipelines())
def test_producers_consumers_with_close(pipeline):
    caps, producers, consumers = pipeline
    chans = [makechan(c) for c in caps]
    sent: dict[tuple, int] = {}
    received: list[list[tuple]] = [[] for _ in consumers]
    done = makechan()

    def producer(pid, steps):
        for seq, (ch, how) in enumerate(steps):
            v = (pid, seq)
            if how == "send":
                chans[ch].send(v)
                sent[v] = ch
            elif how == "select":
                # Both cases send; whichever fires tells where v went.
                other = (ch + 1) % len(chans)
                first = chans[ch].if_send(v)
                ret = select(None, first, chans[other].if_send(v))
                sent[v] = ch if ret is first else other
            else:
                gosched()
        done.send(pid)

    def closer():
        for _ in producers:
            done.recv()
        for c in chans:
            c.close()

    def consumer(cid, style):
        live = list(chans)
        while any(c is not None for c in live):
            cases = [c.if_recv() if c is not None else None for c in live]
            ret = select(*cases)
            i = next(k for k, case in enumerate(cases) if case is ret)
            if not ret.ok:
                live[i] = None
                continue
            received[cid].append((ret.value, i))
            if style == "select_gosched":
                gosched()

    for cid, style in enumerate(consumers):
        go(consumer, cid, style)
    for pid, steps in enumerate(producers):
        go(producer, pid, steps)
    go(closer)
    run()  # no main goroutine: returns when all are done; a deadlock would raise

    everything = [v for part in received for v, _ in part]
    assert Counter(everything) == Counter(sent.keys())
    for part in received:
        seen: dict[tuple[int, int], int] = {}
        for (pid, seq), ch in part:
            assert sent[(pid, seq)] == ch
            assert seq > seen.get((pid, ch), -1)
            seen[(pid, ch)] = seq


# -- 3. non-blocking operations, step by step ---------------------------------------------


class ChannelMachine(RuleBasedStateMachine):
    """Operations that cannot block, against a deque per channel."""

    @initialize(caps=st.lists(st.integers(0, 3), min_size=1, max_size=3))
    def make(self, caps):
        self.caps = caps
        self.chans = [makechan(c) for c in caps]
        self.model = [deque() for _ in caps]
        self.closed = [False for _ in caps]
        self.counter = 0

    def fresh(self):
        self.counter += 1
        return self.counter

    def ready(self, what, i):
        if what == "send":
            return self.closed[i] or len(self.model[i]) < self.caps[i]
        return bool(self.model[i]) or self.closed[i]

    @rule(data=st.data())
    def send_with_room(self, data):
        room = [i for i in range(len(self.caps)) if not self.closed[i] and len(self.model[i]) < self.caps[i]]
        if not room:
            return
        i = data.draw(st.sampled_from(room))
        v = self.fresh()
        self.chans[i].send(v)  # must not block: there is room
        self.model[i].append(v)

    @rule(data=st.data())
    def recv_when_ready(self, data):
        ready = [i for i in range(len(self.caps)) if self.ready("recv", i)]
        if not ready:
            return
        i = data.draw(st.sampled_from(ready))
        got = self.chans[i].recv_ok()
        expected = (self.model[i].popleft(), True) if self.model[i] else (None, False)
        assert got == expected

    @rule(data=st.data())
    def close(self, data):
        i = data.draw(st.integers(0, len(self.caps) - 1))
        if self.closed[i]:
            try:
                self.chans[i].close()
            except PanicError as e:
                assert str(e) == "close of closed channel"
            else:
                raise AssertionError("second close did not panic")
        else:
            self.chans[i].close()
            self.closed[i] = True

    @rule(data=st.data())
    def select_with_default(self, data):
        spec = data.draw(
            st.lists(
                st.one_of(st.none(), st.tuples(st.sampled_from(["send", "recv"]), st.integers(0, len(self.caps) - 1))),
                max_size=4,
            )
        )
        default_at = data.draw(st.integers(0, len(spec)))
        cases, meaning = [], {}
        for entry in spec:
            if entry is None:
                cases.append(None)
                continue
            what, i = entry
            case = self.chans[i].if_send(self.fresh()) if what == "send" else self.chans[i].if_recv()
            meaning[id(case)] = (what, i, case)
            cases.append(case)
        cases.insert(default_at, default)
        ready = {k for k, (what, i, _) in meaning.items() if self.ready(what, i)}
        try:
            ret = select(*cases)
        except PanicError as e:
            assert str(e) == "send on closed channel"
            assert any(meaning[k][0] == "send" and self.closed[meaning[k][1]] for k in ready)
            return
        if not ready:
            assert ret is default
            return
        assert id(ret) in ready, f"select chose {ret!r}, not one of the ready cases"
        what, i, case = meaning[id(ret)]
        if what == "send":
            assert not self.closed[i], "a send to a closed channel did not panic"
            self.model[i].append(case.value)
        elif self.model[i]:
            assert (ret.value, ret.ok) == (self.model[i].popleft(), True)
        else:
            assert (ret.value, ret.ok) == (None, False)

    @rule(data=st.data())
    def select_blocking_when_ready(self, data):
        """A select without default on cases of which at least one is ready."""
        spec = data.draw(
            st.lists(
                st.tuples(st.sampled_from(["send", "recv"]), st.integers(0, len(self.caps) - 1)), min_size=1, max_size=3
            )
        )
        if not any(self.ready(what, i) for what, i in spec):
            return
        if any(what == "send" and self.closed[i] for what, i in spec):
            return  # covered by select_with_default
        cases = [self.chans[i].if_send(self.fresh()) if what == "send" else self.chans[i].if_recv() for what, i in spec]
        before = [list(m) for m in self.model]
        ret = select(*cases)
        k = next(k for k, c in enumerate(cases) if c is ret)
        what, i = spec[k]
        assert self.ready(what, i)
        if what == "send":
            self.model[i].append(ret.value)
        elif before[i]:
            assert (ret.value, ret.ok) == (self.model[i].popleft(), True)
        else:
            assert (ret.value, ret.ok) == (None, False)

    @precondition(lambda self: hasattr(self, "chans"))
    @invariant()
    def lengths_match(self):
        for c, m, cap in zip(self.chans, self.model, self.caps):
            assert len(c) == len(m)
            assert c.cap == cap


ChannelMachine.TestCase.settings = settings(
    max_examples=80, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestChannelMachine = ChannelMachine.TestCase


# -- 4. direct calls and select agree ---------------------------------------------------

# Each way of doing one operation. A send is c.send(v), or a select with its
# one case; a receive is c.recv(), c.recv_ok(), or a select with its one
# case. "try" adds default, which must fire exactly when the operation
# would block; "nones" surrounds the case with ignored None cases.
SEND_WAYS = ["direct", "select", "try", "nones"]
RECV_WAYS = ["recv", "recv_ok", "select", "try", "nones"]
BLOCKING_WAYS = {"direct", "recv", "recv_ok", "select", "nones"}


def do_op(c, op, way, v):
    """Do one send ("send") or receive ("recv") on ``c`` in one way; return what it gave.

    ("sent",), ("got", value, ok) (ok is None for c.recv(), which does not
    say), ("would block",) when a try's default fired, or ("panic", text).
    """
    try:
        if op == "send":
            if way == "direct":
                c.send(v)
                return ("sent",)
            cases = {"select": [c.if_send(v)], "try": [c.if_send(v), default], "nones": [None, c.if_send(v), None]}[way]
            ret = select(*cases)
            return ("would block",) if ret is default else ("sent",)
        if way == "recv":
            return ("got", c.recv(), None)
        if way == "recv_ok":
            return ("got", *c.recv_ok())
        cases = {"select": [c.if_recv()], "try": [default, c.if_recv()], "nones": [c.if_recv(), None]}[way]
        ret = select(*cases)
        return ("would block",) if ret is default else ("got", ret.value, ret.ok)
    except PanicError as e:
        return ("panic", str(e))


def same(got, expected):
    """Whether an outcome matches the model's, where c.recv() does not report ok."""
    if got is not None and expected is not None and got[0] == "got" == expected[0] and got[2] is None:
        return got[1] == expected[1]
    return got == expected


class DirectVsSelectMachine(RuleBasedStateMachine):
    """Every operation, done directly or through select, against one model.

    Each step runs in its own ``run()``: optionally a *partner* goroutine
    first parks on the channel (a receive on an empty channel or a send on
    a full one, directly or by select), then the operation runs in a
    goroutine of its own. ``gosched`` lets them reach their park or finish;
    then main returns, which stops whatever still waits, and a stopped
    operation must leave no trace in the channel. The model (a deque, the
    capacity, closed, and the partner) says for each way the same thing:
    the values and ok flags, the panic, and whether it blocks (a blocking
    way is still waiting; a try returns default).
    """

    @initialize(caps=st.lists(st.integers(0, 2), min_size=1, max_size=3))
    def make(self, caps):
        self.caps = caps
        self.chans = [makechan(c) for c in caps]
        self.model = [deque() for _ in caps]
        self.closed = [False for _ in caps]
        self.counter = 0

    def fresh(self):
        self.counter += 1
        return self.counter

    def expect(self, i, op, v, partner):
        """What ``op`` does on channel i now, by the model; updates the model.

        ``partner`` is None or [op, value, expected outcome] of a goroutine
        parked on the channel; its expected outcome is filled in when the
        operation serves it. Returns ("sent",), ("got", value, ok) or
        ("blocks",).
        """
        buf, cap = self.model[i], self.caps[i]
        if op == "send":
            if self.closed[i]:
                return ("panic", "send on closed channel")
            if partner is not None and partner[0] == "recv":
                partner[2] = ("got", v, True)
                return ("sent",)
            if len(buf) < cap:
                buf.append(v)
                return ("sent",)
            return ("blocks",)
        if buf:
            value = buf.popleft()
            if partner is not None and partner[0] == "send":
                buf.append(partner[1])
                partner[2] = ("sent",)
            return ("got", value, True)
        if partner is not None and partner[0] == "send":
            partner[2] = ("sent",)
            return ("got", partner[1], True)
        if self.closed[i]:
            return ("got", None, False)
        return ("blocks",)

    @rule(data=st.data())
    def operation(self, data):
        i = data.draw(st.integers(0, len(self.caps) - 1), label="channel")
        op = data.draw(st.sampled_from(["send", "send", "recv", "recv", "close"]), label="op")
        way = None if op == "close" else data.draw(st.sampled_from(SEND_WAYS if op == "send" else RECV_WAYS))
        c, buf, cap = self.chans[i], self.model[i], self.caps[i]

        # A partner can only park where its operation blocks: a receive on
        # an empty open channel, a send on a full one.
        partner = None
        if not self.closed[i] and data.draw(st.booleans(), label="partner"):
            pop = "recv" if not buf else "send" if len(buf) == cap else None
            if pop is not None:
                pway = data.draw(st.sampled_from(["direct", "select"] if pop == "send" else ["recv_ok", "select"]))
                partner = [pop, self.fresh(), ("blocks",), pway]

        v = self.fresh()
        if op == "close":
            expected = None
            if self.closed[i]:
                expected = ("panic", "close of closed channel")
            else:
                self.closed[i] = True
                if partner is not None:
                    partner[2] = ("got", None, False) if partner[0] == "recv" else ("panic", "send on closed channel")
        else:
            expected = self.expect(i, op, v, partner)
            if expected == ("blocks",) and way == "try":
                expected = ("would block",)
        results = {}

        def attempt(key, o, w, value):
            results[key] = do_op(c, o, w, value)

        def main():
            if partner is not None:
                go(attempt, "partner", partner[0], partner[3], partner[1])
                settle()
                assert "partner" not in results, "the partner did not park"
            if op == "close":
                try:
                    c.close()
                    results["op"] = None
                except PanicError as e:
                    results["op"] = ("panic", str(e))
            else:
                go(attempt, "op", op, way, v)
            settle()  # the op, and the partner it wakes, run until they block or end

        run(main)  # returning stops what still waits
        event(f"{op} {way or ''} -> {(expected or ('closed',))[0]}{' with partner' if partner else ''}")
        got = results.get("op", ("blocks",))
        assert same(got, expected), f"{op} by {way} on cap {cap}: got {got}, model says {expected}"
        if partner is not None:
            pgot = results.get("partner", ("blocks",))
            assert same(pgot, partner[2]), f"partner {partner[0]} by {partner[3]}: got {pgot}, model says {partner[2]}"

    @precondition(lambda self: hasattr(self, "chans"))
    @invariant()
    def lengths_match(self):
        for c, m, cap in zip(self.chans, self.model, self.caps):
            assert len(c) == len(m)
            assert c.cap == cap


DirectVsSelectMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestDirectVsSelect = DirectVsSelectMachine.TestCase
