"""The Flask app of tests/production/test_gunicorn.py: wsgi_apps.py's routes, in Flask."""

from __future__ import annotations

from flask import Flask, request

from . import wsgi_apps

app = Flask(__name__)


@app.route("/work")
def work() -> str:
    return wsgi_apps.work(request.args["run"], request.args["i"])


@app.route("/info")
def info() -> str:
    return wsgi_apps.info(request.environ["REMOTE_PORT"])


@app.route("/sleep")
def sleep() -> str:
    return wsgi_apps.sleep(float(request.args["s"]))


@app.route("/raise")
def fail() -> str:
    raise RuntimeError("this handler fails on purpose")
