#!/usr/bin/env python3
"""Runs every harness K times in two variants and prints measured.md's tables.

  measure.py [--runs K] [--python PY] [--requests N] > measured.md.new

plain   : no oracle, no -X importtime (what coldspy will profile)
oracle  : --oracle --importtime (sitecustomize timestamps + the -X importtime tree)
Runs are sequential (the machine is small); each driver has its own hard timeout.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _harness as H  # noqa: E402

DRIVERS = {
    "lambda": [os.path.join(HERE, "lambda", "run_lambda.py")],
    "gcf": [os.path.join(HERE, "gcf", "run_gcf.py")],
    "openfaas": [os.path.join(HERE, "openfaas", "run_openfaas.py")],
}


def run(name, extra, python, n):
    argv = [sys.executable] + DRIVERS[name] + ["--events", str(n), "--python", python,
                                               "--timeout", "90"] + extra
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=120)
    return json.loads(p.stdout)


def med(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 1) if xs else None


def calls(d):
    """(client_ms list, runtime-side ms list) per invocation."""
    if d["runtime"] == "lambda":
        client = [i.get("client_ms") for i in d["invocations"]]
    else:
        client = [r.get("client_ms") for r in d["requests"]]
    rt = [c["duration_us"] / 1000 for c in d.get("oracle", {}).get("calls", [])]
    return client, rt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=3)
    ap.add_argument("--python", default=H.DEFAULT_PYTHON)
    a = ap.parse_args()
    rows = []
    for name in DRIVERS:
        plain = [run(name, [], a.python, a.requests) for _ in range(a.runs)]
        orac = [run(name, ["--oracle", "--importtime"], a.python, a.requests) for _ in range(a.runs)]
        if name == "lambda":
            ready = [d["init_done"]["after_spawn_ms"] for d in plain]
            ready_what = "first GET /next"
        else:
            ready = [d["ready"]["after_spawn_ms"] for d in plain]
            ready_what = "first answer to the readiness GET"
        imp_end = [d["oracle"]["handler_import_end_after_spawn_ms"] for d in orac]
        imp_start = [d["oracle"]["handler_import_start_after_spawn_ms"] for d in orac]
        imp_ms = [d["oracle"]["handler_import_ms"] for d in orac]
        it = [d["importtime"] for d in orac]
        it_cum = [(x["handler_line"]["cumulative_us"] if x.get("handler_line") else
                   x.get("handler_roots_cumulative_us")) / 1000 for x in it]
        pc, pr = [], []
        oc, orr = [], []
        for d in plain:
            c, _ = calls(d)
            pc.append(c)
        for d in orac:
            c, r = calls(d)
            oc.append(c)
            orr.append(r)
        nreq = a.requests
        rows.append({
            "name": name, "ready_what": ready_what, "ready": med(ready),
            "imp_start": med(imp_start), "imp_end": med(imp_end), "imp_ms": med(imp_ms),
            "it_cum": med(it_cum),
            "mod_total": med([x["modules_total"] for x in it]),
            "mod_handler": med([x["handler_subtree_modules"] for x in it]),
            "mod_before": med([x.get("modules_before_handler_done") for x in it]),
            "plain_client": [med([c[i] for c in pc if i < len(c)]) for i in range(nreq)],
            "oracle_client": [med([c[i] for c in oc if i < len(c)]) for i in range(nreq)],
            "oracle_rt": [med([r[i] for r in orr if i < len(r)]) for i in range(nreq)],
            "exit": sorted({json.dumps(d["exit"]) for d in plain}),
            "ok": all(d["ok"] for d in plain + orac),
        })
    py = subprocess.run([a.python, "-c", "import sys; print(sys.version.split()[0])"],
                        stdout=subprocess.PIPE, text=True).stdout.strip()
    print("Medians of %d runs each, CPython %s, %d invocations per run (ms unless said)." % (a.runs, py, a.requests))
    print()
    print("| runtime | plain: spawn -> ready (what) | oracle: spawn -> handler import start / end | handler import (oracle) | handler import (-X importtime cumulative) | modules total / before handler done / in handler's imports | all ok |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| %s | %s (%s) | %s / %s | %s | %s | %s / %s / %s | %s |" % (
            r["name"], r["ready"], r["ready_what"], r["imp_start"], r["imp_end"], r["imp_ms"],
            r["it_cum"], r["mod_total"], r["mod_before"], r["mod_handler"], r["ok"]))
    print()
    print("| runtime | invocation | plain: client ms | oracle: client ms | oracle: handler function ms (runtime side) |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        for i in range(a.requests):
            print("| %s | %d | %s | %s | %s |" % (r["name"], i + 1, r["plain_client"][i],
                                                r["oracle_client"][i], r["oracle_rt"][i]))
    print()
    for r in rows:
        print("- %s exit statuses (plain runs): %s" % (r["name"], ", ".join(r["exit"])))


if __name__ == "__main__":
    main()
