"""Go's sync/atomic types: Int32, Int64, Uint32, Uint64, Bool, Value.

What: values that goroutines of any scheduler and plain threads may read
and update at once without a Mutex. Integers wrap around on overflow
exactly as Go's fixed-width integers do; they have Go 1.23's ``and_``
and ``or_`` (And/Or, returning the old value) besides Go's older methods.

How: under the GIL a plain attribute read or write is already atomic, so
``load`` takes no lock; every read-modify-write (``add``, ``and_``,
``or_``, ``swap``, ``compare_and_swap``), and ``store`` with them so that a store cannot land
between the read and the write of an ``add``, holds ``_lock``, one
process-wide ``threading.Lock`` held for a few bytecodes and never across
anything that blocks.

Rejected: a lock per value (more memory for no concurrency: the GIL runs
one thread at a time anyway); no lock at all (``x += 1`` is a load, an add
and a store, and a thread switch between them loses an update).
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Generic, TypeVar

from .._core import PanicError

__all__ = ["Int32", "Int64", "Uint32", "Uint64", "Bool", "Value"]

T = TypeVar("T")

_lock = threading.Lock()


class _Int:
    """A fixed-width integer with atomic operations."""

    __slots__ = ("_v", "__weakref__")
    _BITS: ClassVar[int] = 64
    _MIN: ClassVar[int] = 0
    _MAX: ClassVar[int] = 0
    _NAME: ClassVar[str] = ""

    def __init_subclass__(cls, *, bits: int, signed: bool) -> None:
        cls._BITS = bits
        cls._MIN = -(1 << (bits - 1)) if signed else 0
        cls._MAX = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
        cls._NAME = cls.__name__

    def __init__(self, value: int = 0) -> None:
        self._v = self._check(value, "value")

    def _check(self, v: object, name: str) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{self._NAME} argument '{name}' must be int, not {type(v).__name__}")
        if not self._MIN <= v <= self._MAX:
            raise ValueError(f"{self._NAME} argument '{name}' out of range [{self._MIN}, {self._MAX}]: {v}")
        return v

    def load(self) -> int:
        """The current value (Go's Load)."""
        return self._v

    def store(self, val: int) -> None:
        """Set the value to ``val`` (Go's Store).

        Raises:
            TypeError: ``val`` is not an int.
            ValueError: ``val`` does not fit the type.
        """
        val = self._check(val, "val")
        with _lock:
            self._v = val

    def swap(self, new: int) -> int:
        """Set the value to ``new``; return the old one (Go's Swap).

        Raises:
            TypeError: ``new`` is not an int.
            ValueError: ``new`` does not fit the type.
        """
        new = self._check(new, "new")
        with _lock:
            old = self._v
            self._v = new
        return old

    def compare_and_swap(self, old: int, new: int) -> bool:
        """If the value is ``old``, set it to ``new`` and return True (Go's CompareAndSwap).

        Raises:
            TypeError: ``new`` is not an int.
            ValueError: ``new`` does not fit the type.
        """
        new = self._check(new, "new")
        with _lock:
            if self._v != old:
                return False
            self._v = new
        return True

    def add(self, delta: int) -> int:
        """Add ``delta`` (may be negative), wrapping around as Go does; return the new value.

        Go's Add. For the unsigned types a negative ``delta`` subtracts (Go
        writes it ``^uint32(c-1)``).

        Raises:
            TypeError: ``delta`` is not an int.
        """
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise TypeError(f"{self._NAME} argument 'delta' must be int, not {type(delta).__name__}")
        with _lock:
            v = self._v + delta
            if not self._MIN <= v <= self._MAX:
                v = ((v - self._MIN) & ((1 << self._BITS) - 1)) + self._MIN
            self._v = v
        return v

    def and_(self, mask: int) -> int:
        """Set the value to ``value & mask``; return the old value.

        Go 1.23's And. ``mask`` is taken modulo 2**bits, as ``add`` takes
        ``delta``, so ``~4`` clears bit 2 of an unsigned value too (Go
        writes ``^uint32(4)``).

        Raises:
            TypeError: ``mask`` is not an int.
        """
        m = self._mask(mask)
        with _lock:
            old = self._v
            self._v = old & m
        return old

    def or_(self, mask: int) -> int:
        """Set the value to ``value | mask``; return the old value.

        Go 1.23's Or; ``mask`` is taken modulo 2**bits, as in ``and_``.

        Raises:
            TypeError: ``mask`` is not an int.
        """
        m = self._mask(mask)
        with _lock:
            old = self._v
            self._v = old | m
        return old

    def _mask(self, mask: object) -> int:
        """``mask`` as a value of this type: its low ``bits`` bits, in two's complement.

        The bitwise and/or of two values in range is in range (Python's
        ints behave as two's complement of unbounded width), so and_/or_
        need no wrap-around of their own.
        """
        if isinstance(mask, bool) or not isinstance(mask, int):
            raise TypeError(f"{self._NAME} argument 'mask' must be int, not {type(mask).__name__}")
        if self._MIN <= mask <= self._MAX:
            return mask
        return ((mask - self._MIN) & ((1 << self._BITS) - 1)) + self._MIN

    def __repr__(self) -> str:
        return f"<offset.sync.atomic.{self._NAME} {self._v}>"


class Int32(_Int, bits=32, signed=True):
    """An int32 with atomic operations (Go's atomic.Int32)."""

    __slots__ = ()


class Int64(_Int, bits=64, signed=True):
    """An int64 with atomic operations (Go's atomic.Int64)."""

    __slots__ = ()


class Uint32(_Int, bits=32, signed=False):
    """A uint32 with atomic operations (Go's atomic.Uint32)."""

    __slots__ = ()


class Uint64(_Int, bits=64, signed=False):
    """A uint64 with atomic operations (Go's atomic.Uint64)."""

    __slots__ = ()


class Bool:
    """A bool with atomic operations (Go's atomic.Bool)."""

    __slots__ = ("_v", "__weakref__")

    def __init__(self, value: bool = False) -> None:
        self._v = bool(value)

    def load(self) -> bool:
        """The current value (Go's Load)."""
        return self._v

    def store(self, val: bool) -> None:
        """Set the value (Go's Store)."""
        with _lock:
            self._v = bool(val)

    def swap(self, new: bool) -> bool:
        """Set the value to ``new``; return the old one (Go's Swap)."""
        with _lock:
            old = self._v
            self._v = bool(new)
        return old

    def compare_and_swap(self, old: bool, new: bool) -> bool:
        """If the value is ``old``, set it to ``new`` and return True (Go's CompareAndSwap)."""
        with _lock:
            if self._v != bool(old):
                return False
            self._v = bool(new)
        return True

    def __repr__(self) -> str:
        return f"<offset.sync.atomic.Bool {self._v}>"


class Value(Generic[T]):
    """A value of one consistent type, loaded and stored atomically.

    Go's atomic.Value: ``load()`` is None until the first store; every
    store must use the same type as the first (``type(x)``, exactly);
    None (Go's nil) cannot be stored. ``compare_and_swap`` compares with
    ``==``, as Go compares interface values.
    """

    __slots__ = ("_v", "__weakref__")

    def __init__(self) -> None:
        self._v: T | None = None

    def load(self) -> T | None:
        """The value of the most recent store, or None before any (Go's Load)."""
        return self._v

    def store(self, val: T) -> None:
        """Set the value (Go's Store).

        Raises:
            PanicError: ``val`` is None ("sync/atomic: store of nil value
                into Value"), or not of the first value's type ("sync/atomic:
                store of inconsistently typed value into Value").
        """
        if val is None:
            raise PanicError("sync/atomic: store of nil value into Value")
        with _lock:
            cur = self._v
            if cur is not None and type(cur) is not type(val):
                raise PanicError("sync/atomic: store of inconsistently typed value into Value")
            self._v = val

    def swap(self, new: T) -> T | None:
        """Set the value to ``new``; return the old one, None if empty (Go's Swap).

        Raises:
            PanicError: ``new`` is None ("sync/atomic: swap of nil value into
                Value"), or not of the stored type ("sync/atomic: swap of
                inconsistently typed value into Value").
        """
        if new is None:
            raise PanicError("sync/atomic: swap of nil value into Value")
        with _lock:
            old = self._v
            if old is not None and type(old) is not type(new):
                raise PanicError("sync/atomic: swap of inconsistently typed value into Value")
            self._v = new
        return old

    def compare_and_swap(self, old: T | None, new: T) -> bool:
        """If the value equals ``old``, set it to ``new`` and return True (Go's CompareAndSwap).

        Raises:
            PanicError: ``new`` is None ("sync/atomic: compare and swap of nil
                value into Value"); ``old`` and ``new`` differ in type
                ("sync/atomic: compare and swap of inconsistently typed
                values"); or ``new`` is not of the stored type ("sync/atomic:
                compare and swap of inconsistently typed value into Value").
        """
        if new is None:
            raise PanicError("sync/atomic: compare and swap of nil value into Value")
        if old is not None and type(old) is not type(new):
            raise PanicError("sync/atomic: compare and swap of inconsistently typed values")
        while True:
            cur: Any = self._v
            if cur is None:
                if old is not None:
                    return False
                with _lock:
                    if self._v is not None:
                        continue  # stored meanwhile: look again
                    self._v = new
                return True
            if type(cur) is not type(new):
                raise PanicError("sync/atomic: compare and swap of inconsistently typed value into Value")
            # Compare outside the lock: a user __eq__ may do anything.
            if cur != old:
                return False
            with _lock:
                if self._v is not cur:
                    continue  # changed meanwhile: look again
                self._v = new
            return True

    def __repr__(self) -> str:
        return f"<offset.sync.atomic.Value {self._v!r}>"


for _cls in (Int32, Int64, Uint32, Uint64, Bool, Value):
    _cls.__module__ = "offset.sync.atomic"
del _cls
