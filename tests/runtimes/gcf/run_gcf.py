#!/usr/bin/env python3
"""Runs a handler under Google's functions-framework (the GCF / Cloud Run functions
Python runtime's own loader and server).

  run_gcf.py [--source main.py] [--target handler] [--requests N] [--python PY]
             [--importtime] [--oracle] [--keep-warm [--ready-file F] [--control-file F]]
             [--debug] [--workers N] [--concurrency N] [--stop-signal SIGTERM|SIGINT] [--out-dir D] [--timeout S]

Starts `PY [-X importtime] -m functions_framework --target=T --source=S
--signature-type=http --host 127.0.0.1 --port P` in the source's directory (its
own process group), polls GET /robots.txt (the framework answers it with 404
without calling the function) until the server answers, POSTs the event N times,
stops the server, prints a JSON summary. See ../_http_driver.py.

Without --debug the framework serves with gunicorn: the master process imports the
function (create_app), then forks ONE worker (WORKERS=1; --workers N) with gthread threads
(THREADS = 4 x cpu_count); requests run in a worker thread of the forked child,
whose pid is in the summary's worker_pids. --debug serves with Flask's development
server in the same process instead.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import _http_driver as D  # noqa: E402


def main():
    ap = D.parser("functions-framework harness")
    ap.add_argument("--source", default=os.path.join(HERE, "main.py"))
    ap.add_argument("--target", default="handler")
    ap.add_argument("--debug", action="store_true", help="Flask dev server instead of gunicorn")
    ap.add_argument("--workers", type=int, default=1, help="gunicorn workers (WORKERS)")
    D.common_args(ap)
    a = ap.parse_args()
    port = D.pick_port(a)
    source = os.path.abspath(a.source)
    argv = [a.python] + (["-X", "importtime"] if a.importtime else []) + [
        "-m", "functions_framework", "--target=%s" % a.target, "--source=%s" % source,
        "--signature-type=http", "--host", "127.0.0.1", "--port", str(port)]
    if a.debug:
        argv.append("--debug")
    notes = ("gunicorn: function imported in the master (pid), requests served by the forked worker "
             "(worker_pids) in gthread threads" if not a.debug else
             "Flask development server (--debug): one process")
    # K_SERVICE etc. as the Cloud Run functions environment sets them.
    extra = {"K_SERVICE": "coldspy", "K_REVISION": "coldspy-00001", "PORT": str(port),
             "FUNCTION_TARGET": a.target, "WORKERS": str(a.workers)}
    sys.exit(D.run(a, "gcf", argv, os.path.dirname(source), extra, source, a.target,
                   "/robots.txt", None, {"boto3", "markdown", "tqdm"}, notes))


if __name__ == "__main__":
    main()
