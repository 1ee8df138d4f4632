"""sync.Mutex and sync.WaitGroup: the Go tour's SafeCounter.

Go: https://go.dev/tour/concurrency/9 (the tour waits with time.Sleep;
here a WaitGroup does it properly). 1000 goroutines increment one key of a
map guarded by a Mutex; the result is exactly 1000.
"""

from offset import maintask, run
from offset.sync import Mutex, WaitGroup


class SafeCounter:
    """Safe to use concurrently."""

    def __init__(self):
        self.mu = Mutex()
        self.v = {}

    def inc(self, key):
        with self.mu:  # lock so only one goroutine at a time can touch the map
            self.v[key] = self.v.get(key, 0) + 1

    def value(self, key):
        with self.mu:
            return self.v.get(key, 0)


@maintask
def main():
    c = SafeCounter()
    wg = WaitGroup()
    for _ in range(1000):
        wg.go(c.inc, "somekey")  # Go 1.25's wg.Go: add(1), then done() at the end
    wg.wait()
    print(c.value("somekey"))


if __name__ == "__main__":
    run()
