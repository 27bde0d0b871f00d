#!/usr/bin/env python3
"""Runs a handler under an OpenFaaS python3-http style server (index.py: Flask +
waitress, `from function import handler`, handler.handle(event, context)).

  run_openfaas.py [--requests N] [--python PY] [--importtime] [--oracle]
                  [--keep-warm [--ready-file F] [--control-file F]]
                  [--stop-signal SIGTERM|SIGINT] [--out-dir D] [--timeout S]

Starts `PY [-X importtime] index.py` in this directory with HOST=127.0.0.1 and
PORT=P (its own process group), polls GET /_/health until it answers, POSTs the
event N times, stops the server, prints a JSON summary. See ../_http_driver.py.
One process: waitress serves requests in its worker threads (4 by default).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import _http_driver as D  # noqa: E402


def main():
    ap = D.parser("OpenFaaS python3-http harness")
    ap.add_argument("--function-dir", default=HERE,
                    help="directory holding index.py and function/handler.py")
    D.common_args(ap)
    a = ap.parse_args()
    port = D.pick_port(a)
    fdir = os.path.abspath(a.function_dir)
    argv = [a.python] + (["-X", "importtime"] if a.importtime else []) + ["index.py"]
    extra = {"HOST": "127.0.0.1", "PORT": str(port), "fprocess": "python index.py",
             "mode": "http", "upstream_url": "http://127.0.0.1:%d" % port}
    sys.exit(D.run(a, "openfaas", argv, fdir, extra,
                   os.path.join(fdir, "function", "handler.py"), "handle",
                   "/_/health", "function.handler", {"boto3", "markdown", "tqdm"},
                   "waitress in one process; requests in waitress worker threads"))


if __name__ == "__main__":
    main()
