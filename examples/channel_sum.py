"""The talk's channel example: sum a list in two goroutines.

Go: https://go.dev/tour/concurrency/2 (prints "-5 17 12"; the order of the
two partial sums depends on which goroutine sends first).
"""

from offset import go, maintask, makechan, run


def sum(a, c):
    s = 0
    for v in a:
        s += v
    c.send(s)  # send sum to c


@maintask
def main():
    a = [7, 2, 8, -9, 4, 0]
    c = makechan()
    go(sum, a[: int(len(a) / 2)], c)
    go(sum, a[int(len(a) / 2) :], c)
    x, y = c.recv(), c.recv()  # receive from c
    print(x, y, x + y)


if __name__ == "__main__":
    run()
