"""File reads under offset's patch layer, beside the unpatched calls.

Rows (issue 9, part 2; see bench/README.md):
  cached 4 KiB read   ns per 4 KiB read of a file in the page cache:
                      ``os.read``, ``os.pread``, and ``f.read(4096)`` on an
                      unbuffered (``buffering=0``) and a buffered file.
                      offset: patched, in a goroutine; threads: the
                      unpatched call (the original function, a file made by
                      the original open) in the same goroutine of the same
                      process, batches of the two interleaved so that noise
                      falls on both alike; the best batch of each counts.
                      Target: patched <= 1.3x unpatched.
  evicted read        a 256 MiB file (x BENCH_SCALE), fsync'ed and evicted
                      from the page cache (POSIX_FADV_DONTNEED), read whole
                      with ``f.read()`` by one goroutine while another
                      ticks every 5 ms: the worst tick's lateness, ms.
                      threads: the same unpatched (the read holds the
                      scheduler's thread, so the ticker waits for all of
                      it). Target: patched <= 20 ms. The file is made in
                      $BENCH_FILES_DIR, or else the current directory (not
                      /tmp, which may be a tmpfs), and deleted.

Run: ./bench/run files   (or: python bench/bench_files.py [--quick])
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import QUICK, REPEAT, Row, Target, header, isolated, offset_builds, progress, report, size  # noqa: E402

CALLS = 100_000  # per column and read kind
BATCH = 500
CACHED_SIZE = 1 << 20  # the cached file: 256 reads of 4 KiB, then back to the start
EVICTED_SIZE = 256 << 20
TICK = 0.005


def _dir() -> str:
    # Not a temporary directory: /tmp may be a tmpfs, whose pages cannot be
    # evicted to a disk.
    d = os.environ.get("BENCH_FILES_DIR")
    return d if d and os.path.isdir(d) else os.getcwd()


def _make(size: int, tag: str) -> str:
    path = os.path.join(_dir(), f"bench-files-{tag}-{os.getpid()}.dat")
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            left -= f.write(chunk[: min(left, len(chunk))])
        f.flush()
        os.fsync(f.fileno())
    return path


def cached_reads(n: int) -> dict[str, list[float]]:
    """ns per 4 KiB cached read, [patched, unpatched], for each kind of read."""
    import offset

    offset.patch_all()
    path = _make(CACHED_SIZE, "cached")
    orig_read = os.read.__wrapped__  # type: ignore[attr-defined]
    orig_pread = os.pread.__wrapped__  # type: ignore[attr-defined]
    orig_open = open.__wrapped__  # type: ignore[attr-defined]
    perf = time.perf_counter
    wraps = CACHED_SIZE // 4096

    def via_read(read: Any, fd: int) -> Any:
        def batch() -> float:
            os.lseek(fd, 0, 0)
            t0 = perf()
            for i in range(BATCH):
                if i % wraps == wraps - 1:
                    os.lseek(fd, 0, 0)
                read(fd, 4096)
            return perf() - t0

        return batch

    def via_pread(pread: Any, fd: int) -> Any:
        offsets = [(i % wraps) * 4096 for i in range(BATCH)]

        def batch() -> float:
            t0 = perf()
            for off in offsets:
                pread(fd, 4096, off)
            return perf() - t0

        return batch

    def via_file(f: Any) -> Any:
        def batch() -> float:
            f.seek(0)
            read = f.read
            t0 = perf()
            for i in range(BATCH):
                if i % wraps == wraps - 1:
                    f.seek(0)
                read(4096)
            return perf() - t0

        return batch

    def main() -> dict[str, list[float]]:
        fd = os.open(path, os.O_RDONLY)
        files = [
            open(path, "rb", buffering=0),
            orig_open(path, "rb", buffering=0),
            open(path, "rb"),
            orig_open(path, "rb"),
        ]
        kinds = {
            "os.read": (via_read(os.read, fd), via_read(orig_read, fd)),
            "os.pread": (via_pread(os.pread, fd), via_pread(orig_pread, fd)),
            "f.read, unbuffered": (via_file(files[0]), via_file(files[1])),
            "f.read, buffered": (via_file(files[2]), via_file(files[3])),
        }
        out = {}
        for name, (patched, plain) in kinds.items():
            best = [float("inf"), float("inf")]
            for _ in range(max(2, n // BATCH // 10)):  # warm-up
                patched()
                plain()
            for _ in range(max(1, n // BATCH)):
                best[0] = min(best[0], patched())
                best[1] = min(best[1], plain())
            out[name] = [b / BATCH * 1e9 for b in best]
        for f in files:
            f.close()
        os.close(fd)
        return out

    result: dict[str, list[float]] | None = None
    try:
        result = offset.run(main)
    finally:
        os.unlink(path)
    assert result is not None
    return result


def evicted_read(size_bytes: int, patched: bool) -> dict[str, float]:
    """Worst tick lateness (ms) while a goroutine reads an evicted file whole."""
    import offset

    if patched:
        offset.patch_all()
    else:
        offset.patches.time.patch()  # only the ticker's sleep is offset's: the read is the stdlib's
    path = _make(size_bytes, "evicted")
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    worst = [0.0]
    done = [False]

    def ticker() -> None:
        last = time.perf_counter()
        while not done[0]:
            time.sleep(TICK)
            now = time.perf_counter()
            worst[0] = max(worst[0], now - last - TICK)
            last = now

    def main() -> dict[str, float]:
        offset.go(ticker)
        time.sleep(0.05)
        t0 = time.perf_counter()
        with open(path, "rb") as f:
            data = f.read()
        took = time.perf_counter() - t0
        assert len(data) == size_bytes
        time.sleep(0.02)
        done[0] = True
        time.sleep(0.02)
        return {"late_ms": worst[0] * 1e3, "read_ms": took * 1e3}

    result: dict[str, float] | None = None
    try:
        result = offset.run(main)
    finally:
        os.unlink(path)
    assert result is not None
    return result


def main() -> None:
    header("files")
    t_start = time.perf_counter()
    rows = []
    cached: dict[str, list[float]] = {}
    pure: dict[str, float] = {}  # the pure core's patched reads (its unpatched ones are the same calls)
    for col, is_pure in offset_builds():
        progress(f"cached 4 KiB reads ({col}) ...")
        r = isolated(cached_reads, size(CALLS), pure=is_pure)
        if is_pure:
            pure = {name: patched for name, (patched, _) in r.items()}
        else:
            cached = r
    first = True
    for name, (patched, plain) in cached.items():
        rows.append(
            Row(
                f"{'cached 4 KiB read: ' if first else '  '}{name}; threads: unpatched",
                "ns/call",
                {"offset": patched, **({"offset_pure": pure[name]} if name in pure else {}), "threads": plain},
                lower_is_better=True,
                targets=[Target("<=1.3x unpatched", lambda r: r["offset"] <= 1.3 * r["threads"])],
            )
        )
        first = False
    nbytes = max(1 << 20, int(EVICTED_SIZE * (0.1 if QUICK else 1) * float(os.environ.get("BENCH_SCALE", "1"))))
    runs = 1 if QUICK else REPEAT
    late: dict[str, float] = {}
    took: dict[str, float] = {}
    for run in range(runs):
        for col, patched, is_pure in [(c, True, p) for c, p in offset_builds()] + [("threads", False, False)]:
            progress(f"evicted read: {col}, run {run + 1} of {runs} ...")
            r = isolated(evicted_read, nbytes, patched, pure=is_pure)
            late[col] = min(late.get(col, float("inf")), r["late_ms"])
            took[col] = min(took.get(col, float("inf")), r["read_ms"])
    rows.append(
        Row(
            f"evicted {nbytes >> 20} MiB f.read(), 5 ms ticker: worst lateness; threads: unpatched",
            "ms",
            late,
            lower_is_better=True,
            fmt="{:,.1f}",
            targets=[Target("<=20 ms", lambda r: r["offset"] <= 20.0)],
        )
    )
    rows.append(Row("  the read itself", "ms", took, lower_is_better=True, fmt="{:,.0f}"))
    report(rows)
    print(
        "cached reads, ns added per call by the patch in a goroutine: "
        + ", ".join(f"{k} {p - u:+,.0f}" for k, (p, u) in cached.items())
    )
    print(f"({time.perf_counter() - t_start:.0f} s in all)")


if __name__ == "__main__":
    main()
