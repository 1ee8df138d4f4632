"""The echo server of bench_patches.py: plain blocking sockets, one handler per connection.

The same server code (``serve`` and ``handle``) runs in every column; only
how a connection's handler is started, and what patched the process first,
differ:

    python -m offset bench/_echo_server.py offset   # go(handle, conn), everything patched
    python bench/_echo_server.py gevent             # gevent.monkey.patch_all(), gevent.spawn
    python bench/_echo_server.py threads            # threading.Thread per connection

It listens on 127.0.0.1 (a free port), prints the port on its first line of
output and serves until it is killed. Nothing in ``serve`` or ``handle`` knows
about offset or gevent.
"""

import sys

IMPL = sys.argv[1] if len(sys.argv) > 1 else ""

if IMPL == "gevent":
    # Patch first thing, before socket and threading are imported.
    from gevent import monkey

    monkey.patch_all()

import socket  # noqa: E402


def handle(conn):
    """Echo what arrives until the client closes."""
    with conn:
        while True:
            data = conn.recv(4096)
            if not data:
                break
            conn.sendall(data)


def serve(spawn):
    """Accept connections forever; ``spawn(handle, conn)`` for each."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1024)
    print(lsock.getsockname()[1], flush=True)
    while True:
        conn, _ = lsock.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        spawn(handle, conn)


def main():
    if IMPL == "offset":
        import offset

        if not offset.patches.is_patched("socket"):
            sys.exit("run the offset column as: python -m offset bench/_echo_server.py offset")
        serve(offset.go)  # the top level is the main goroutine under python -m offset
    elif IMPL == "gevent":
        import gevent

        serve(gevent.spawn)
    elif IMPL == "threads":
        import threading

        def spawn(fn, *args):
            threading.Thread(target=fn, args=args, daemon=True).start()

        serve(spawn)
    else:
        sys.exit(f"usage: {sys.argv[0]} offset|gevent|threads")


if __name__ == "__main__":
    main()
