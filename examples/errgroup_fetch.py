"""errgroup: fetch several URLs at once; the first failure cancels the rest.

Go: the JustErrors and Pipeline examples of golang.org/x/sync/errgroup.
Fetching is simulated with sleeps (no network): two URLs answer, one fails
after 30 ms, and one slow fetch is cancelled through the group's context
instead of running its full second. set_limit bounds the fetches in flight.
"""

from offset import context, errgroup, maintask, run, select, time

MS = time.MILLISECOND

# url -> (how long the fake fetch takes, whether it fails)
SITES = {
    "https://golang.org/": (10 * MS, False),
    "https://pkg.go.dev/": (20 * MS, False),
    "https://www.somestupidname.com/": (30 * MS, True),
    "https://slow.example/": (1000 * MS, False),
}


def fetch(ctx, url, results):
    delay, fails = SITES[url]
    done = time.After(delay)
    if select(done.if_recv(), ctx.done().if_recv()) != done.if_recv():
        raise ctx.err()  # cancelled: stop early
    if fails:
        raise ConnectionError(f"Get {url!r}: no such host")
    results.append(url)


@maintask
def main():
    t0 = time.now()
    g, ctx = errgroup.with_context(context.background())
    g.set_limit(4)  # at most 4 fetches in flight
    results = []
    for url in SITES:
        g.go(fetch, ctx, url, results)
    try:
        g.wait()
        print("Successfully fetched all URLs.")
    except Exception as e:  # the first exception any fetch raised
        print("error:", e)
    for url in sorted(results):
        print("fetched", url)
    elapsed = time.since(t0)
    print("slow fetch cancelled:", elapsed < 500 * MS)


if __name__ == "__main__":
    run()
