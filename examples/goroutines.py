"""The talk's first example: two goroutines saying "hello" and "world".

Go: https://go.dev/tour/concurrency/1
"""

from offset import go, maintask, run, time


def say(s):
    for _i in range(5):
        time.sleep(100 * time.MILLISECOND)
        print(s)


@maintask
def main():
    go(say, "world")
    say("hello")


if __name__ == "__main__":
    run()
