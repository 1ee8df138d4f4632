"""offset's main demonstration: unmodified blocking code, run concurrently.

``fetch`` below is ordinary urllib.request code with nothing offset-specific
in it. Run under ``python -m offset``, which patches the standard library
before the script starts, the same function called from 100 goroutines
finishes in about the time of one request instead of 100:

    python -m offset examples/fetch_many.py [N] [DELAY_MS]

It starts a local HTTP server (examples/slow_server.py, in its own process)
that answers each request after DELAY_MS, fetches N URLs one by one, then
N URLs each in its own goroutine, and prints both wall times.
"""

import os
import subprocess
import sys
import time
import urllib.request

from offset import go, makechan


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.read()


def start_server(delay_ms):
    here = os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.Popen(
        [sys.executable, os.path.join(here, "slow_server.py"), "--delay-ms", str(delay_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    delay_ms = float(sys.argv[2]) if len(sys.argv) > 2 else 50.0
    server, base = start_server(delay_ms)
    try:
        urls = [f"{base}/item/{i}" for i in range(n)]

        t0 = time.perf_counter()
        for url in urls:
            fetch(url)
        one_by_one = time.perf_counter() - t0

        t0 = time.perf_counter()
        results = makechan(n)
        for url in urls:
            go(lambda u=url: results.send(fetch(u)))
        bodies = [results.recv() for _ in urls]
        together = time.perf_counter() - t0

        assert all(b.startswith(b"hello from /item/") for b in bodies)
        print(f"{n} requests, each answered after {delay_ms:g} ms by a local server")
        print(f"one by one:         {one_by_one:7.3f} s")
        print(f"in {n} goroutines: {together:7.3f} s  ({one_by_one / together:.0f}x faster)")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
