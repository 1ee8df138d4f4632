"""time.Ticker, time.Timer and time.After, from Go by Example.

Go: https://gobyexample.com/tickers, /timers and /timeouts (with shorter
times). A ticker ticks three times before it is stopped; a timer is
stopped before it fires; a slow result loses to time.After.
"""

from offset import go, maintask, makechan, run, select, time

MS = time.MILLISECOND


@maintask
def main():
    # Tickers: tick every 100 ms; stop after 350 ms.
    ticker = time.Ticker(100 * MS)
    done = makechan()

    def ticks():
        n = 0
        while True:
            ret = select(done.if_recv(), ticker.c.if_recv())
            if ret == done.if_recv():
                return
            n += 1
            print("tick", n)

    go(ticks)
    time.sleep(350 * MS)
    ticker.stop()
    done.send(True)
    print("ticker stopped")

    # Timers: one we wait for, one we stop before it fires.
    timer1 = time.Timer(50 * MS)
    timer1.c.recv()
    print("timer 1 fired")
    timer2 = time.Timer(time.SECOND)

    def wait2():
        timer2.c.recv()
        print("timer 2 fired")  # never printed

    go(wait2)
    if timer2.stop():
        print("timer 2 stopped")

    # Timeouts: a result that takes 200 ms, a deadline of 100 ms.
    result = makechan(1)

    def slow():
        time.sleep(200 * MS)
        result.send("result 1")

    go(slow)
    ret = select(result.if_recv(), time.After(100 * MS).if_recv())
    print(ret.value if ret == result.if_recv() else "timeout 1")


if __name__ == "__main__":
    run()
