"""A WSGI app for the pre-fork server test (gunicorn, 2 workers).

Each request spins in `handle_request` for SPIN_S seconds of wall time,
then appends {"role": "worker", "pid", "cpu_s"} to $TREE_REPORT, so the
last line per pid is that worker's CPU time so far (the oracle).
"""
import json
import os
import time

SPIN_S = float(os.environ.get("SPIN_S", "0.5"))


def handle_request():
    end = time.monotonic() + SPIN_S
    n = 0
    while time.monotonic() < end:
        n += 1
    return n


def app(environ, start_response):
    n = handle_request()
    with open(os.environ["TREE_REPORT"], "a") as f:
        line = {"role": "worker", "pid": os.getpid(), "ppid": os.getppid(), "cpu_s": time.process_time()}
        f.write(json.dumps(line) + "\n")
    body = f"{os.getpid()} {n}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
