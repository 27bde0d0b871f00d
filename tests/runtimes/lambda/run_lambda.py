#!/usr/bin/env python3
"""Runs a handler under the real AWS Lambda runtime interface client (awslambdaric).

  run_lambda.py --handler-dir DIR --handler app.handler --events N [--python PY]
                [--importtime] [--oracle] [--keep-warm [--ready-file F] [--control-file F]]
                [--end sigterm|http-error] [--out-dir D] [--timeout S]

Starts runtime_api_stub.RuntimeApiStub on 127.0.0.1 (random port), then
`PY [-X importtime] -m awslambdaric HANDLER` with AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT,
cwd = LAMBDA_TASK_ROOT = DIR, in its own process group. Serves N events, waits for N
responses, ends the runtime, prints a JSON summary on stdout (also --summary F).

--keep-warm: no event is handed out until asked. Once the runtime is warm (blocked in
its first GET .../next, i.e. after init) the driver writes --ready-file (JSON:
runtime_pid, driver_pid, port) and prints "READY {...}" on stderr. Then each SIGUSR1
to the driver releases one event, and so does writing a total count into
--control-file (e.g. `echo 3 > F` releases up to 3 in all). The driver finishes
when N events are answered.

Stdlib only; the driver itself runs on any python3. The runtime's Python (--python)
defaults to the venv made by ../prepare.sh.
"""
import argparse
import json
import os
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import _harness as H  # noqa: E402
from runtime_api_stub import RuntimeApiStub  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
DEFAULT_EVENT = os.path.join(REPO, "examples", "event.json")


def main():
    ap = argparse.ArgumentParser(description="awslambdaric harness")
    ap.add_argument("--handler-dir", default=HERE)
    ap.add_argument("--handler", default="app.handler")
    ap.add_argument("--events", type=int, default=3)
    ap.add_argument("--event-file", default=DEFAULT_EVENT)
    ap.add_argument("--python", default=H.DEFAULT_PYTHON)
    ap.add_argument("--importtime", action="store_true", help="run the runtime with -X importtime")
    ap.add_argument("--oracle", action="store_true",
                    help="oracle variant: oracle/sitecustomize.py times the handler import and calls")
    ap.add_argument("--keep-warm", action="store_true")
    ap.add_argument("--ready-file")
    ap.add_argument("--control-file")
    ap.add_argument("--end", choices=("sigterm", "http-error"), default="sigterm",
                    help="how the runtime is ended after the last response (see runtime_api_stub.py)")
    ap.add_argument("--execution-env", default="AWS_Lambda_python3.12",
                    help="AWS_EXECUTION_ENV ('' to leave unset). python3.12 turns on awslambdaric's "
                         "thread polling of /next, as on real Lambda")
    ap.add_argument("--out-dir", help="where logs go (default: a new temp dir)")
    ap.add_argument("--summary", help="also write the summary JSON here")
    ap.add_argument("--timeout", type=float, default=120, help="hard timeout of the whole run, seconds")
    a = ap.parse_args()

    out = a.out_dir or tempfile.mkdtemp(prefix="coldspy-lambda-")
    os.makedirs(out, exist_ok=True)
    groups = []
    H.install_driver_guards(lambda: groups, a.timeout)
    t_start = time.monotonic()

    with open(a.event_file, "rb") as f:
        event = f.read()
    stub = RuntimeApiStub([event] * a.events, os.path.join(out, "runtime_api.jsonl"),
                          keep_warm=a.keep_warm,
                          on_exhausted="error" if a.end == "http-error" else "hang")
    port = stub.start()

    handler_dir = os.path.abspath(a.handler_dir)
    modname, fname = a.handler.rsplit(".", 1)
    handler_file = os.path.join(handler_dir, *modname.split(".")) + ".py"
    extra = {
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % port,
        "LAMBDA_TASK_ROOT": handler_dir,
        "_HANDLER": a.handler,
        "AWS_LAMBDA_FUNCTION_NAME": "coldspy",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TZ": ":UTC",
    }
    if a.execution_env:
        extra["AWS_EXECUTION_ENV"] = a.execution_env
    oracle_log = os.path.join(out, "oracle.jsonl")
    env = H.runtime_env(a.python, a.oracle, oracle_log, handler_file, fname, extra)
    if not a.execution_env:
        env.pop("AWS_EXECUTION_ENV", None)
    argv = [a.python] + (["-X", "importtime"] if a.importtime else []) + ["-m", "awslambdaric", a.handler]
    g = H.Group(argv, handler_dir, env, os.path.join(out, "runtime.stdout"),
                os.path.join(out, "runtime.stderr"))
    groups.append(g)

    left = lambda: max(1.0, a.timeout - (time.monotonic() - t_start) - 2)  # noqa: E731
    ready = None
    if a.keep_warm:
        usr1 = []
        signal.signal(signal.SIGUSR1, lambda s, f: usr1.append(1))
        stub.wait(lambda: len(stub.next_requests) >= 1 or not g.alive(), left())
        if stub.next_requests:
            ready = {"runtime_pid": g.pid, "driver_pid": os.getpid(), "port": port,
                     "warm_mono_ns": stub.next_requests[0]["mono_ns"]}
            if a.ready_file:
                with open(a.ready_file + ".tmp", "w") as f:
                    json.dump(ready, f)
                os.replace(a.ready_file + ".tmp", a.ready_file)
            sys.stderr.write("READY %s\n" % json.dumps(ready))
            sys.stderr.flush()
        released = 0
        while g.alive() and not stub.all_answered() and left() > 1:
            want = len(usr1)
            if a.control_file:
                try:
                    with open(a.control_file) as f:
                        want = max(want, int(f.read().strip() or 0))
                except (OSError, ValueError):
                    pass
            if want > released:
                stub.release(want - released)
                released = want
            time.sleep(0.02)
    else:
        stub.wait(lambda: stub.all_answered() or not g.alive() or bool(stub.init_errors), left())

    if a.end == "http-error" and g.alive():
        g.wait(min(10, left()))
    g.stop(signal.SIGTERM)
    stub.close()
    g.close()

    s = g.spawn
    invs = []
    for inv in stub.invocations:
        d = dict(inv)
        d["handout_after_spawn_ms"] = H.ms(s["mono_ns"], inv["handout_mono_ns"])
        invs.append(d)
    first_next = stub.next_requests[0] if stub.next_requests else None
    summary = {
        "runtime": "lambda",
        "runtime_package": "awslambdaric",
        "argv": argv,
        "cwd": handler_dir,
        "pid": g.pid,
        "port": port,
        "out_dir": out,
        "spawn": s,
        "init_done": first_next and {"mono_ns": first_next["mono_ns"], "wall_ns": first_next["wall_ns"],
                                     "after_spawn_ms": H.ms(s["mono_ns"], first_next["mono_ns"]),
                                     "what": "first GET /runtime/invocation/next"},
        "keep_warm": ready,
        "invocations": invs,
        "events_requested": a.events,
        "events_answered": stub.answered,
        "init_errors": stub.init_errors,
        "exit": g.exit_status(),
        "end": a.end,
        "stdout_file": g.stdout_path,
        "stderr_file": g.stderr_path,
        "runtime_api_log": os.path.join(out, "runtime_api.jsonl"),
    }
    if a.importtime:
        summary["importtime"] = H.importtime_summary(
            g.stderr_path, {"boto3", "markdown", "tqdm"}, handler_module=None)
    if a.oracle:
        o = H.read_oracle(oracle_log)
        if "import_end" in o:
            summary["oracle"] = {
                "handler_import_start_after_spawn_ms": H.ms(s["mono_ns"], o["import_start"]["mono_ns"]),
                "handler_import_end_after_spawn_ms": H.ms(s["mono_ns"], o["import_end"]["mono_ns"]),
                "handler_import_ms": H.ms(o["import_start"]["mono_ns"], o["import_end"]["mono_ns"]),
                "import_start": o["import_start"], "import_end": o["import_end"],
                "calls": o["calls"], "log": oracle_log}
        else:
            summary["oracle"] = {"error": "no import events", "log": oracle_log}
    ok = stub.answered == a.events and not stub.init_errors
    summary["ok"] = ok
    H.dump(summary, a.summary)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
