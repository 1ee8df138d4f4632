"""golang/go test/chan/sieve1.go: the prime sieve, a chain of filter goroutines."""

from __future__ import annotations

from offset import go, makechan, run

PRIMES = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97]


def generate(ch):
    """Send the sequence 2, 3, 4, ... to channel ch."""
    i = 2
    while True:
        ch.send(i)
        i += 1


def filter_(in_, out, prime):
    """Copy the values from in_ to out, removing those divisible by prime."""
    for i in in_:
        if i % prime != 0:
            out.send(i)


def sieve(primes):
    """Daisy-chain filter goroutines together."""
    ch = makechan()
    go(generate, ch)
    while True:
        prime = ch.recv()
        primes.send(prime)
        ch1 = makechan()
        go(filter_, ch, ch1, prime)
        ch = ch1


def test_first_25_primes():
    def main():
        primes = makechan()
        go(sieve, primes)
        return [primes.recv() for _ in range(len(PRIMES))]

    # main returns with every filter goroutine still blocked: they are stopped.
    assert run(main) == PRIMES
