"""The WSGI apps bench_gunicorn.py serves, the same for every worker class.

- ``trivial``: answers ``hello`` at once.
- ``backend``: calls ``BENCH_BACKEND`` (examples/slow_server.py, answering
  after 100 ms) with ``urllib.request``, a new connection each time, and
  answers with what it got: a handler that spends its time waiting on
  another service, as most web handlers do.
"""

import os
import urllib.request

BACKEND = os.environ.get("BENCH_BACKEND", "")


def _answer(start_response, body):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def trivial(environ, start_response):
    return _answer(start_response, b"hello\n")


def backend(environ, start_response):
    with urllib.request.urlopen(f"{BACKEND}/bench", timeout=30) as r:
        body = r.read()
    return _answer(start_response, body)
