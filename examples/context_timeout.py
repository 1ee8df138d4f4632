"""context.WithCancel and context.WithTimeout, from Go's context package examples.

Go: https://pkg.go.dev/context#example-WithCancel and #example-WithTimeout.
A generator goroutine stops when its context is cancelled (prints 1 to 5);
then a select gives up on a channel that is never ready when the timeout's
context is done (prints "context deadline exceeded").
"""

from offset import context, go, maintask, makechan, run, select, time


def gen(ctx):
    """Send 1, 2, 3, ... on the returned channel until ctx is done."""
    dst = makechan()

    def loop():
        n = 1
        while True:
            if select(ctx.done().if_recv(), dst.if_send(n)) == ctx.done().if_recv():
                return  # returning here does not leak the goroutine
            n += 1

    go(loop)
    return dst


@maintask
def main():
    ctx, cancel = context.with_cancel(context.background())
    try:
        for n in gen(ctx):
            print(n)
            if n == 5:
                break
    finally:
        cancel()  # when we are done taking integers

    never_ready = makechan()
    ctx, cancel = context.with_timeout(context.background(), 50 * time.MILLISECOND)
    try:
        ret = select(never_ready.if_recv(), ctx.done().if_recv())
        if ret == never_ready.if_recv():
            print("ready")
        else:
            print(ctx.err())  # context deadline exceeded
    finally:
        cancel()


if __name__ == "__main__":
    run()
