"""Measures every function in this directory, by hand (no coldspy):

  (a) `python -X importtime -c 'import app'` (5 runs, median per module):
      the top-10 modules by cumulative import time, and app.py's direct imports;
  (b) the handler runs on each event*.json, twice per process and in two
      processes, with the same answer (deterministic);
  (c) with app_fixed.py (the primary finding of answer.json fixed by hand):
      init time of app vs app_fixed, N interleaved process pairs, and that
      both give identical answers on every event. Wall and CPU time of the
      init are both kept: the machine is shared, and CPU time is the steadier.

Writes NAME/measured.json. Usage:
  VENV/bin/python measure.py [--runs 20] [NAME ...]
"""
import glob
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
MARK = "@@MEASURE "

# Loads path/app.py the way coldspy's runner does (directory on sys.path,
# module imported by name), times the import (init), then calls the handler.
DRIVER = r"""
import json, os, sys, time, hashlib
t0 = time.perf_counter()
c0 = time.process_time()
path, events = sys.argv[1], sys.argv[2:]
d = os.path.dirname(os.path.abspath(path))
sys.path.insert(0, d)
mod = __import__(os.path.splitext(os.path.basename(path))[0])
t1 = time.perf_counter()
c1 = time.process_time()
out = {"init_ms": (t1 - t0) * 1000.0, "init_cpu_ms": (c1 - c0) * 1000.0, "answers": {}}
for e in events:
    with open(e) as f:
        ev = json.load(f)
    t2 = time.perf_counter()
    r1 = json.dumps(mod.handler(ev, None), sort_keys=True)
    t3 = time.perf_counter()
    r2 = json.dumps(mod.handler(ev, None), sort_keys=True)
    out["answers"][os.path.basename(e)] = {
        "sha256": hashlib.sha256(r1.encode()).hexdigest(),
        "repeat_identical": r1 == r2,
        "first_invoke_ms": (t3 - t2) * 1000.0,
        "preview": r1[:160],
    }
sys.stdout.flush()
os.write(1, (%r + json.dumps(out) + "\n").encode())
""" % MARK


def run_driver(app_path, events):
    t0 = time.perf_counter()
    p = subprocess.run([PY, "-c", DRIVER, app_path] + events, cwd="/", capture_output=True, text=True,
                       timeout=300)
    wall = (time.perf_counter() - t0) * 1000.0
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s" % (app_path, p.stderr[-2000:]))
    line = [l for l in p.stdout.splitlines() if l.startswith(MARK)][-1]
    out = json.loads(line[len(MARK):])
    out["process_ms"] = wall
    return out


def importtime(fdir, runs=5):
    samples = {}
    direct = set()
    for _ in range(runs):
        p = subprocess.run([PY, "-X", "importtime", "-c", "import app"], cwd=fdir,
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(p.stderr[-2000:])
        rows = []
        for line in p.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
            if m:
                rows.append((int(m.group(1)), int(m.group(2)), len(m.group(3)), m.group(4)))
        # -X importtime prints children before their parent; app's direct
        # imports are the entries one level deeper than app.
        app_level = [r[2] for r in rows if r[3] == "app"][-1]
        pending = []
        for self_us, cum_us, level, name in rows:
            samples.setdefault(name, []).append((cum_us, self_us))
            if level == app_level + 2:
                pending.append(name)
            elif level <= app_level:
                if name == "app":
                    direct.update(pending)
                pending = []
    med = {n: (statistics.median(c for c, _ in v), statistics.median(s for _, s in v))
           for n, v in samples.items()}
    total = med.get("app", (0, 0))[0]
    top = sorted(((n, c, s) for n, (c, s) in med.items() if n != "app"), key=lambda t: -t[1])[:10]
    return {
        "runs": runs,
        "app_cumulative_us": int(total),
        "top10_cumulative_us": [{"module": n, "cumulative_us": int(c), "self_us": int(s)} for n, c, s in top],
        "direct_imports_of_app_cumulative_us": [
            {"module": n, "cumulative_us": int(med[n][0])}
            for n in sorted(direct, key=lambda n: -med[n][0])],
    }


def summary(xs):
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) >= 2 else [xs[0]] * 3
    return {"median": round(statistics.median(xs), 2), "min": round(xs[0], 2), "max": round(xs[-1], 2),
            "p25": round(q[0], 2), "p75": round(q[2], 2), "iqr": round(q[2] - q[0], 2)}


def compare(app, fixed, events, runs):
    run_driver(fixed, events)  # warm the page cache / pycache for both
    before, after, identical = [], [], True
    for i in range(runs):
        order = [(app, before), (fixed, after)] if i % 2 == 0 else [(fixed, after), (app, before)]
        for path, acc in order:
            acc.append(run_driver(path, events))
    for b, a in zip(before, after):
        for ev in b["answers"]:
            identical &= b["answers"][ev]["sha256"] == a["answers"][ev]["sha256"]
    ib, ia = [r["init_ms"] for r in before], [r["init_ms"] for r in after]
    return {
        "variant": os.path.basename(fixed),
        "runs_each": runs, "interleaved": True,
        "init_ms_before": summary(ib), "init_ms_after": summary(ia),
        "saving_ms_median": round(statistics.median(ib) - statistics.median(ia), 2),
        "saving_ms_paired": summary([b - a for b, a in zip(ib, ia)]),
        # CPU time (user+sys) of the init: less sensitive to other load on the machine
        "init_cpu_ms_before": summary([r["init_cpu_ms"] for r in before]),
        "init_cpu_ms_after": summary([r["init_cpu_ms"] for r in after]),
        "cpu_saving_ms_paired": summary([b["init_cpu_ms"] - a["init_cpu_ms"] for b, a in zip(before, after)]),
        "process_ms_before": summary([r["process_ms"] for r in before]),
        "process_ms_after": summary([r["process_ms"] for r in after]),
        "first_invoke_ms_before": {ev: summary([r["answers"][ev]["first_invoke_ms"] for r in before]) for ev in before[0]["answers"]},
        "first_invoke_ms_after": {ev: summary([r["answers"][ev]["first_invoke_ms"] for r in after]) for ev in after[0]["answers"]},
        "answers_identical": identical,
    }


def measure(name, runs):
    fdir = os.path.join(HERE, name)
    events = sorted(glob.glob(os.path.join(fdir, "event*.json")))
    app = os.path.join(fdir, "app.py")
    fixed = os.path.join(fdir, "app_fixed.py")
    res = {"function": name, "python": sys.version.split()[0], "loadavg_start": os.getloadavg()[0]}
    res["importtime"] = importtime(fdir)
    a1, a2 = run_driver(app, events), run_driver(app, events)
    res["handler"] = {
        ev: {"sha256": a1["answers"][ev]["sha256"],
             "deterministic": a1["answers"][ev]["sha256"] == a2["answers"][ev]["sha256"]
             and a1["answers"][ev]["repeat_identical"] and a2["answers"][ev]["repeat_identical"],
             "preview": a1["answers"][ev]["preview"]}
        for ev in a1["answers"]}
    primary = next((f for f in json.load(open(os.path.join(fdir, "answer.json")))["findings"]
                    if f.get("primary")), None)
    if os.path.exists(fixed):
        res["by_hand_fix"] = dict(answer_json_primary=primary, **compare(app, fixed, events, runs))
        res["init_ms_before"] = res["by_hand_fix"]["init_ms_before"]["median"]
        res["init_ms_after"] = res["by_hand_fix"]["init_ms_after"]["median"]
        res["answers_identical"] = res["by_hand_fix"]["answers_identical"]
    else:
        rs = [run_driver(app, events) for _ in range(runs)]
        res["init_ms"] = summary([r["init_ms"] for r in rs])
        res["init_cpu_ms"] = summary([r["init_cpu_ms"] for r in rs])
        res["init_ms_before"] = res["init_ms"]["median"]
        res["init_ms_after"] = None
        res["answers_identical"] = None
    # other by-hand variants: app_fixed_WHAT.py, each its own docstring-less
    # edit of app.py, compared with app.py the same way
    for extra in sorted(glob.glob(os.path.join(fdir, "app_fixed_*.py"))):
        res.setdefault("other_variants", {})[os.path.basename(extra)] = compare(app, extra, events, runs)
    res["loadavg_end"] = os.getloadavg()[0]
    with open(os.path.join(fdir, "measured.json"), "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    return res


def main(argv):
    runs = 20
    if argv[:1] == ["--runs"]:
        runs, argv = int(argv[1]), argv[2:]
    names = argv or sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(HERE, "*", "app.py")))
    for n in names:
        t = time.time()
        r = measure(n, runs)
        print("%-18s init %7.1f -> %s ms  identical=%s  (%.0f s)" % (
            n, r["init_ms_before"], r["init_ms_after"], r["answers_identical"], time.time() - t), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
