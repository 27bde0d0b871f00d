"""The common part of run_gcf.py and run_openfaas.py: an HTTP function server.

Starts the server (in its own process group, see _harness.Group), polls a path that
does NOT run the handler until the server answers, sends N real HTTP POSTs of the
event on 127.0.0.1 (one new connection each, as a gateway does), timing each on the
client side with time.monotonic_ns() and time.time_ns(), then stops the server with
--stop-signal (SIGTERM by default; SIGKILL of the group after a grace period) and
prints a JSON summary.

--keep-warm: after the server is ready, no request is sent until asked: each
SIGUSR1 to the driver sends one, and so does writing a total count into
--control-file. --ready-file gets {server_pid, worker_pids, driver_pid, port}.
"""
import argparse
import http.client
import json
import os
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import _harness as H

REPO = os.path.dirname(os.path.dirname(H.HERE))
DEFAULT_EVENT = os.path.join(REPO, "examples", "event.json")


def common_args(ap, default_events=3):
    ap.add_argument("--requests", "--events", dest="requests", type=int, default=default_events)
    ap.add_argument("--event-file", default=DEFAULT_EVENT)
    ap.add_argument("--python", default=H.DEFAULT_PYTHON)
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    ap.add_argument("--importtime", action="store_true", help="run the server with -X importtime")
    ap.add_argument("--oracle", action="store_true",
                    help="oracle variant: oracle/sitecustomize.py times the handler import and calls")
    ap.add_argument("--concurrency", type=int, default=1,
                    help="requests in flight at once (threads of the driver); 1: one after the other")
    ap.add_argument("--keep-warm", action="store_true")
    ap.add_argument("--ready-file")
    ap.add_argument("--control-file")
    ap.add_argument("--stop-signal", choices=("SIGTERM", "SIGINT"), default="SIGTERM")
    ap.add_argument("--out-dir")
    ap.add_argument("--summary")
    ap.add_argument("--timeout", type=float, default=120, help="hard timeout of the whole run, seconds")
    ap.add_argument("--ready-timeout", type=float, default=60)


def _get(port, path, timeout):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def _post(port, body, timeout):
    t0 = H.now()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        t1 = H.now()
        return {"status": r.status, "start_mono_ns": t0["mono_ns"], "start_wall_ns": t0["wall_ns"],
                "end_mono_ns": t1["mono_ns"], "end_wall_ns": t1["wall_ns"],
                "client_ms": H.ms(t0["mono_ns"], t1["mono_ns"]),
                "body": data.decode("utf-8", "replace")}
    except OSError as e:
        return {"status": None, "error": repr(e), "start_mono_ns": t0["mono_ns"]}
    finally:
        c.close()


def run(a, runtime, argv, cwd, extra_env, handler_file, handler_func, ready_path,
        handler_module, handler_roots, notes):
    out = a.out_dir or tempfile.mkdtemp(prefix="coldspy-%s-" % runtime)
    os.makedirs(out, exist_ok=True)
    groups = []
    H.install_driver_guards(lambda: groups, a.timeout)
    t_start = time.monotonic()
    left = lambda: max(1.0, a.timeout - (time.monotonic() - t_start) - 8)  # noqa: E731

    with open(a.event_file, "rb") as f:
        body = f.read()
    oracle_log = os.path.join(out, "oracle.jsonl")
    env = H.runtime_env(a.python, a.oracle, oracle_log, handler_file, handler_func, extra_env)
    g = H.Group(argv, cwd, env, os.path.join(out, "server.stdout"), os.path.join(out, "server.stderr"))
    groups.append(g)

    ready = None
    polls = 0
    deadline = time.monotonic() + min(a.ready_timeout, left())
    while time.monotonic() < deadline and g.alive():
        polls += 1
        try:
            st = _get(a.port, ready_path, 2)
            ready = H.now()
            ready["status"] = st
            break
        except OSError:
            time.sleep(0.01)
    requests = []
    worker_pids = H.children_of(g.pid)
    warm = None
    if ready:
        if a.keep_warm:
            usr1 = []
            signal.signal(signal.SIGUSR1, lambda s, f: usr1.append(1))
            warm = {"server_pid": g.pid, "worker_pids": worker_pids, "driver_pid": os.getpid(),
                    "port": a.port}
            if a.ready_file:
                with open(a.ready_file + ".tmp", "w") as f:
                    json.dump(warm, f)
                os.replace(a.ready_file + ".tmp", a.ready_file)
            sys.stderr.write("READY %s\n" % json.dumps(warm))
            sys.stderr.flush()
            while len(requests) < a.requests and g.alive() and left() > 1:
                want = len(usr1)
                if a.control_file:
                    try:
                        with open(a.control_file) as f:
                            want = max(want, int(f.read().strip() or 0))
                    except (OSError, ValueError):
                        pass
                if want > len(requests):
                    requests.append(_post(a.port, body, min(30, left())))
                else:
                    time.sleep(0.02)
        elif a.concurrency > 1:
            with ThreadPoolExecutor(a.concurrency) as pool:
                requests = list(pool.map(lambda _: _post(a.port, body, min(30, left())),
                                         range(a.requests)))
        else:
            for _ in range(a.requests):
                if not g.alive() or left() <= 1:
                    break
                requests.append(_post(a.port, body, min(30, left())))
        worker_pids = sorted(set(worker_pids) | set(H.children_of(g.pid)))

    stop_at = H.now()
    g.stop(getattr(signal, a.stop_signal), grace=5.0)
    g.close()
    s = g.spawn
    for i, r in enumerate(requests):
        r["seq"] = i
        if "start_mono_ns" in r:
            r["start_after_spawn_ms"] = H.ms(s["mono_ns"], r["start_mono_ns"])
    summary = {
        "runtime": runtime,
        "argv": argv,
        "cwd": cwd,
        "pid": g.pid,
        "worker_pids": worker_pids,
        "port": a.port,
        "out_dir": out,
        "spawn": s,
        "ready": ready and dict(ready, after_spawn_ms=H.ms(s["mono_ns"], ready["mono_ns"]),
                                path=ready_path, polls=polls),
        "keep_warm": warm,
        "requests": requests,
        "stop": dict(stop_at, signal=a.stop_signal),
        "exit": g.exit_status(),
        "stdout_file": g.stdout_path,
        "stderr_file": g.stderr_path,
        "notes": notes,
    }
    if a.importtime:
        summary["importtime"] = H.importtime_summary(g.stderr_path, handler_roots, handler_module)
    if a.oracle:
        o = H.read_oracle(oracle_log)
        if "import_end" in o:
            calls = o["calls"]
            for r, c in zip(requests, calls):
                c["client_ms"] = r.get("client_ms")
            summary["oracle"] = {
                "handler_import_start_after_spawn_ms": H.ms(s["mono_ns"], o["import_start"]["mono_ns"]),
                "handler_import_end_after_spawn_ms": H.ms(s["mono_ns"], o["import_end"]["mono_ns"]),
                "handler_import_ms": H.ms(o["import_start"]["mono_ns"], o["import_end"]["mono_ns"]),
                "import_start": o["import_start"], "import_end": o["import_end"],
                "calls": calls, "log": oracle_log}
        else:
            summary["oracle"] = {"error": "no import events", "log": oracle_log}
    ok = bool(ready) and len(requests) == a.requests and all(r.get("status") == 200 for r in requests)
    summary["ok"] = ok
    H.dump(summary, a.summary)
    return 0 if ok else 1


def parser(desc):
    return argparse.ArgumentParser(description=desc)


def pick_port(a):
    if not a.port:
        a.port = H.free_port()
    return a.port
