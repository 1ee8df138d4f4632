"""The client of bench_patches.py's fan-out row: many urllib requests at once.

    python -m offset bench/_fanout.py offset URL N REPEAT   # N goroutines, everything patched
    python bench/_fanout.py gevent URL N REPEAT             # gevent.monkey.patch_all(), N greenlets
    python bench/_fanout.py threads URL N REPEAT            # N threading.Threads

``fetch`` is unmodified blocking code (urllib.request.urlopen), the same in
every column. One warm-up request (imports, first connection), then REPEAT
times: N requests started at once, each to URL/<i>, each body checked; the
wall time from the first start to the last finish, and the CPU time
(user + system, every thread) this process spent meanwhile. Prints one JSON
line: {"ms": [wall of each run, ...], "cpu_ms": [CPU of each run, ...]}. Every request has a 30 s timeout, so the
process ends even if the server stops answering.
"""

import sys

IMPL = sys.argv[1] if len(sys.argv) > 1 else ""

if IMPL == "gevent":
    from gevent import monkey

    monkey.patch_all()

import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

TIMEOUT = 30.0


def fetch(url, path, errors):
    try:
        with urllib.request.urlopen(f"{url}/{path}", timeout=TIMEOUT) as r:
            body = r.read()
        if body != f"hello from /{path}\n".encode():
            errors.append(f"{path}: unexpected body {body[:80]!r}")
    except Exception as e:  # reported by the parent, not raised in a goroutine
        errors.append(f"{path}: {type(e).__name__}: {e}")


def fan_out(start_all, url, n, tag):
    """Start n fetches with ``start_all``; return (wall ms, CPU ms of this process, errors)."""
    errors = []
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    start_all([(url, f"{tag}-{i}", errors) for i in range(n)])
    ms = (time.perf_counter() - t0) * 1000
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime) * 1000
    return ms, cpu, errors


def main():
    url, n, repeat = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

    if IMPL == "offset":
        from offset import patches, sync

        if not patches.is_patched("socket"):
            sys.exit("run the offset column as: python -m offset bench/_fanout.py offset ...")

        def start_all(calls):
            wg = sync.WaitGroup()
            for args in calls:
                wg.go(fetch, *args)
            wg.wait()

    elif IMPL == "gevent":
        import gevent

        def start_all(calls):
            gevent.joinall([gevent.spawn(fetch, *args) for args in calls], raise_error=True)

    elif IMPL == "threads":
        import threading

        def start_all(calls):
            ts = [threading.Thread(target=fetch, args=args) for args in calls]
            for t in ts:
                t.start()
            for t in ts:
                t.join(TIMEOUT + 5)

    else:
        sys.exit(f"usage: {sys.argv[0]} offset|gevent|threads URL N REPEAT")

    walls, cpus = [], []
    for run in range(repeat + 1):  # run 0 is the warm-up, one request
        ms, cpu, errors = fan_out(start_all, url, 1 if run == 0 else n, f"r{run}")
        if errors:
            sys.exit(f"fan-out ({IMPL}): {len(errors)} of {n} requests failed, first: {errors[0]}")
        if run:
            walls.append(ms)
            cpus.append(cpu)
    print(json.dumps({"ms": walls, "cpu_ms": cpus}), flush=True)


if __name__ == "__main__":
    main()
