"""The applications tests/production/test_gunicorn.py serves under gunicorn.

gunicorn imports this module in the worker process (``--pythonpath
tests``), after the worker has patched the standard library, so it records
what was patched when it was imported. Two apps with the same routes:
``plain`` here (a bare WSGI callable) and ``app`` in flask_app.py (Flask):

- ``/work?run=R&i=N``: calls the test's HTTP backend
  (``OFFSET_TEST_BACKEND``, tests/clients/_backend.py) with
  ``urllib.request`` and answers ``PID R:N`` with the backend's answer;
- ``/info``: JSON: the worker's pid, the patch areas patched when this
  module was imported, the client's port, how many ``/sleep`` requests are
  in flight;
- ``/sleep?s=X``: ``time.sleep(X)``, then ``slept``;
- ``/raise``: raises ``RuntimeError``.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from typing import Any
from urllib.parse import parse_qs

import offset.patches

PATCHED_AT_IMPORT = {area: offset.patches.is_patched(area) for area in ("socket", "time", "threading", "signal")}
BACKEND = os.environ.get("OFFSET_TEST_BACKEND", "")
sleeping = 0  # /sleep requests in flight (goroutines of one thread: no lock needed)


def work(run: str, i: str) -> str:
    with urllib.request.urlopen(f"{BACKEND}/work?run={run}&i={i}", timeout=30) as r:
        return f"{os.getpid()} {r.read().decode()}"


def info(remote_port: str) -> str:
    return json.dumps(
        {"pid": os.getpid(), "patched": PATCHED_AT_IMPORT, "remote_port": remote_port, "sleeping": sleeping}
    )


def sleep(seconds: float) -> str:
    global sleeping
    sleeping += 1
    try:
        time.sleep(seconds)
    finally:
        sleeping -= 1
    return "slept"


def plain(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path = environ["PATH_INFO"]
    q = {k: v[0] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
    if path == "/work":
        body = work(q["run"], q["i"])
    elif path == "/info":
        body = info(environ["REMOTE_PORT"])
    elif path == "/sleep":
        body = sleep(float(q["s"]))
    elif path == "/raise":
        raise RuntimeError("this handler fails on purpose")
    else:
        start_response("404 Not Found", [("Content-Length", "0")])
        return []
    data = body.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
