"""offset's main demonstration: ordinary blocking code, all of it at once.

Every task below is plain standard-library code, with nothing of offset in
it: an HTTPS fetch with urllib.request, a child process with subprocess, a
file read with open(), a time.sleep. Run under ``python -m offset``, which
patches the standard library before the script starts, the tasks run one
by one and then each in its own goroutine, and the script prints the
sequential sum beside the concurrent wall time:

    python -m offset examples/tour.py [N] [DELAY_MS]

N of each task (default 20), each of which waits about DELAY_MS (default
100): the local HTTPS server (examples/slow_server.py with the test
certificate in examples/tls/, in its own process) answers after DELAY_MS,
the child process sleeps that long, and the files are written, flushed and
evicted from the page cache first, so that reading them waits for the disk.
"""

import hashlib
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

from offset import go, makechan

HERE = os.path.dirname(os.path.abspath(__file__))
FILE_SIZE = 8 << 20


def fetch(url, context):
    with urllib.request.urlopen(url, context=context, timeout=30) as resp:
        return resp.read()


def child(seconds):
    return subprocess.run(["sleep", str(seconds)], check=True).returncode


def read_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def nap(seconds):
    time.sleep(seconds)


def start_server(delay_ms):
    proc = subprocess.Popen(
        [
            sys.executable,
            os.path.join(HERE, "slow_server.py"),
            "--delay-ms",
            str(delay_ms),
            "--tls",
            os.path.join(HERE, "tls", "localhost.pem"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(proc.stdout.readline())
    return proc, f"https://127.0.0.1:{port}"


def make_files(directory, n):
    paths = []
    for i in range(n):
        path = os.path.join(directory, f"data-{i}")
        with open(path, "wb") as f:
            f.write(os.urandom(FILE_SIZE))
        paths.append(path)
    return paths


def evict(paths):
    """Drop the files from the page cache: the next read goes to the disk."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    delay_ms = float(sys.argv[2]) if len(sys.argv) > 2 else 100.0
    seconds = delay_ms / 1000
    server, base = start_server(delay_ms)
    context = ssl.create_default_context(cafile=os.path.join(HERE, "tls", "ca.pem"))
    try:
        with tempfile.TemporaryDirectory() as directory:
            paths = make_files(directory, n)
            tasks = (
                [("HTTPS fetches", fetch, (f"{base}/item/{i}", context)) for i in range(n)]
                + [("subprocesses", child, (seconds,)) for _ in range(n)]
                + [("file reads", read_file, (path,)) for path in paths]
                + [("sleeps", nap, (seconds,)) for _ in range(n)]
            )

            evict(paths)
            spent = {}
            expected = []
            for kind, fn, args in tasks:
                t0 = time.perf_counter()
                expected.append(fn(*args))
                spent[kind] = spent.get(kind, 0.0) + time.perf_counter() - t0
            sequential = sum(spent.values())

            evict(paths)
            t0 = time.perf_counter()
            done = makechan(len(tasks))
            for i, (_kind, fn, args) in enumerate(tasks):
                go(lambda i=i, fn=fn, args=args: done.send((i, fn(*args))))
            results = dict(done.recv() for _ in tasks)
            together = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait()

    assert [results[i] for i in range(len(tasks))] == expected
    print(f"{len(tasks)} blocking tasks: {n} of each kind, each waiting about {delay_ms:g} ms")
    for kind, t in spent.items():
        print(f"  {kind + ':':16} {t:7.3f} s one by one")
    print(f"one by one, in all: {sequential:7.3f} s")
    print(f"all at once:        {together:7.3f} s  ({sequential / together:.0f}x faster)")


if __name__ == "__main__":
    main()
