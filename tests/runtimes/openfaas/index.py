"""An OpenFaaS python3-http style entry point (our own, after the template's index.py).

As in the openfaas/python-flask-template python3-http template: Flask + waitress,
`from function import handler` at module level, and every request calls
handler.handle(event, context) from call_handler(). of-watchdog (http mode) would
run `python index.py` and proxy to 127.0.0.1:5000; here the driver talks to it
directly, so index.py also answers /_/health itself (the watchdog's path) without
calling the function.
"""
import os

from flask import Flask, request
from waitress import serve

from function import handler

app = Flask(__name__)


class Event:
    def __init__(self):
        self.body = request.get_data()
        self.headers = request.headers
        self.method = request.method
        self.query = request.args
        self.path = request.path


class Context:
    def __init__(self):
        self.hostname = os.getenv("HOSTNAME", "localhost")


def format_status_code(res):
    if "statusCode" in res:
        return res["statusCode"]
    return 200


def format_body(res, content_type):
    if content_type == "application/octet-stream":
        return res["body"]
    if "body" not in res:
        return ""
    elif type(res["body"]) is dict:
        import json
        return json.dumps(res["body"])
    return str(res["body"])


def format_headers(res):
    if "headers" not in res:
        return []
    elif type(res["headers"]) is dict:
        return [(key, value) for key, value in res["headers"].items()]
    return res["headers"]


def get_content_type(res):
    content_type = ""
    if "headers" in res:
        content_type = res["headers"].get("Content-type", "")
    return content_type


def format_response(res):
    if res is None:
        return ("", 200)
    if type(res) is dict:
        status_code = format_status_code(res)
        content_type = get_content_type(res)
        body = format_body(res, content_type)
        headers = format_headers(res)
        return (body, status_code, headers)
    return res


@app.route("/_/health", methods=["GET"])
def health():
    return "OK"


@app.route("/", defaults={"path": ""}, methods=["GET", "PUT", "POST", "PATCH", "DELETE"])
@app.route("/<path:path>", methods=["GET", "PUT", "POST", "PATCH", "DELETE"])
def call_handler(path):
    event = Event()
    context = Context()
    response_data = handler.handle(event, context)
    res = format_response(response_data)
    return res


if __name__ == "__main__":
    serve(app, host=os.getenv("HOST", "0.0.0.0"), port=int(os.getenv("PORT", "5000")))
