"""Shared pieces of the runtime harnesses (stdlib only; runs on any Python >= 3.8).

- spawn(): starts the runtime in its own process group (a new session), with
  PR_SET_PDEATHSIG so it dies if the driver is SIGKILLed, and records the spawn
  time (time.monotonic_ns() and time.time_ns(), taken just before fork/exec).
- Group: kills that whole process group on exit, on SIGTERM/SIGINT to the
  driver, and when the hard timeout expires.
- parse_importtime(): reads `-X importtime` lines from a stderr file.
- read_oracle(): reads the JSON lines written by oracle/sitecustomize.py.
"""
import ctypes
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_VENV = "/var/cache/coldspy/venv-runtimes-3.12"
DEFAULT_PYTHON = os.path.join(DEFAULT_VENV, "bin", "python")
ORACLE_DIR = os.path.join(HERE, "oracle")

_PR_SET_PDEATHSIG = 1


def now():
    """One timestamp pair: monotonic (same clock as CLOCK_MONOTONIC / bpf_ktime_get_ns
    offsets) and wall clock."""
    return {"mono_ns": time.monotonic_ns(), "wall_ns": time.time_ns()}


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _child_setup():
    # Runs in the child between fork and exec: die with the driver.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


class Group:
    """A runtime process in its own process group, always killed on exit."""

    def __init__(self, argv, cwd, env, stdout_path, stderr_path):
        # A profiler's command prefix (`coldspy record -o F --`), from the
        # environment so that every driver takes it the same way.
        argv = shlex.split(os.environ.get("COLDSPY_RUNTIME_WRAP", "")) + list(argv)
        self.argv = argv
        self.stdout_f = open(stdout_path, "wb")
        self.stderr_f = open(stderr_path, "wb")
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path
        self.spawn = now()
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=self.stdout_f, stderr=self.stderr_f,
            start_new_session=True, preexec_fn=_child_setup,
        )
        self.pid = self.proc.pid
        self.end = None
        self.stopped_with = None

    def alive(self):
        return self.proc.poll() is None

    def signal_group(self, sig):
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, sig=signal.SIGTERM, grace=5.0):
        """Send sig to the group, wait up to grace seconds, then SIGKILL the group."""
        if self.alive():
            self.stopped_with = signal.Signals(sig).name
            self.signal_group(sig)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.stopped_with += "+SIGKILL"
        # Whatever is left in the group (gunicorn workers, threads' children...).
        self.signal_group(signal.SIGKILL)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if self.end is None:
            self.end = now()

    def wait(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        if self.end is None:
            self.end = now()
        return True

    def exit_status(self):
        rc = self.proc.poll()
        out = {"returncode": rc, "stopped_with": self.stopped_with}
        if rc is not None and rc < 0:
            out["signal"] = signal.Signals(-rc).name
        return out

    def close(self):
        self.stop(signal.SIGKILL, grace=1.0)
        for f in (self.stdout_f, self.stderr_f):
            try:
                f.close()
            except Exception:
                pass


def children_of(pid):
    """Direct children of pid (from /proc/PID/task/*/children)."""
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return sorted(set(kids))


def install_driver_guards(get_groups, timeout_s):
    """SIGTERM/SIGINT/SIGHUP to the driver and the hard timeout both kill the runtime
    group(s) and exit. get_groups() returns the live Group objects."""

    def die(signum, _frame):
        for g in get_groups():
            g.close()
        sys.stderr.write("driver: got %s, killed the runtime group\n" % signal.Signals(signum).name)
        os._exit(128 + signum)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, die)

    def watchdog():
        time.sleep(timeout_s)
        for g in get_groups():
            g.close()
        sys.stderr.write("driver: hard timeout of %.0fs expired, killed the runtime group\n" % timeout_s)
        sys.stderr.flush()
        os._exit(124)

    t = threading.Thread(target=watchdog, daemon=True)
    t.start()


def runtime_env(python, oracle, oracle_log, oracle_file, oracle_func, extra):
    """The environment of the runtime process: the driver's, minus PYTHON* noise,
    plus extra, plus (oracle variant only) the oracle's sitecustomize on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTHON") and k not in ("VIRTUAL_ENV",)}
    env["PYTHONUNBUFFERED"] = "1"
    venv = os.path.dirname(os.path.dirname(os.path.abspath(python)))
    env["PATH"] = os.path.join(venv, "bin") + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    env.update(extra)
    if oracle:
        env["PYTHONPATH"] = ORACLE_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["COLDSPY_ORACLE_LOG"] = oracle_log
        env["COLDSPY_ORACLE_FILE"] = os.path.realpath(oracle_file)
        env["COLDSPY_ORACLE_FUNC"] = oracle_func
    return env


def parse_importtime(stderr_path):
    """-X importtime lines -> list of {name, depth, self_us, cumulative_us}, in the
    order printed (post-order: a module's imports come before it)."""
    rows = []
    try:
        with open(stderr_path, "r", errors="replace") as f:
            for line in f:
                if not line.startswith("import time:"):
                    continue
                parts = line[len("import time:"):].rstrip("\n").split("|")
                if len(parts) != 3:
                    continue
                try:
                    self_us, cum_us = int(parts[0]), int(parts[1])
                except ValueError:
                    continue  # the header line
                name = parts[2]
                stripped = name.lstrip(" ")
                depth = (len(name) - len(stripped) - 1) // 2
                rows.append({"name": stripped, "depth": depth,
                             "self_us": self_us, "cumulative_us": cum_us})
    except OSError:
        pass
    return rows


def subtree(rows, index):
    """Rows of the subtree of rows[index] (its imports, transitively, and itself)."""
    d = rows[index]["depth"]
    i = index
    while i > 0 and rows[i - 1]["depth"] > d:
        i -= 1
    return rows[i:index + 1]


def importtime_summary(stderr_path, handler_roots, handler_module=None):
    """Counts modules in the -X importtime output.

    handler_module: the handler's module name if its own import goes through the
    import statement (and so gets a line); handler_roots: the top-level modules the
    handler file imports, used when the loader runs the handler's code outside the
    import statement (importlib.import_module / exec_module: no line of its own, its
    imports then appear as roots, depth 0)."""
    rows = parse_importtime(stderr_path)
    out = {"modules_total": len(rows)}
    if not rows:
        return out
    idx = None
    if handler_module:
        for i, r in enumerate(rows):
            if r["name"] == handler_module:
                idx = i
                break
    if idx is not None:
        sub = subtree(rows, idx)
        out["handler_line"] = rows[idx]
        out["handler_subtree_modules"] = len(sub)
        out["modules_before_handler_done"] = idx + 1
        return out
    # No line of its own: sum the subtrees of the handler's own imports.
    out["handler_line"] = None
    total, last, cum = 0, -1, 0
    found = {}
    for i, r in enumerate(rows):
        if r["name"] in handler_roots and r["name"] not in found:
            sub = subtree(rows, i)
            found[r["name"]] = {"index": i, "depth": r["depth"],
                                "cumulative_us": r["cumulative_us"], "modules": len(sub)}
            total += len(sub)
            cum += r["cumulative_us"]
            last = max(last, i)
    out["handler_roots"] = found
    out["handler_subtree_modules"] = total
    out["handler_roots_cumulative_us"] = cum
    if last >= 0:
        out["modules_before_handler_done"] = last + 1
    return out


def read_oracle(path):
    events = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        events.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    out = {"events": events}
    for e in events:
        if e.get("event") == "import_start" and "import_start" not in out:
            out["import_start"] = e
        if e.get("event") == "import_end" and "import_end" not in out:
            out["import_end"] = e
    calls = []
    starts = {}
    for e in events:
        key = (e.get("pid"), e.get("tid"))
        if e.get("event") == "call_start":
            starts[key] = e
        elif e.get("event") == "call_end" and key in starts:
            s = starts.pop(key)
            calls.append({"pid": e.get("pid"), "tid": e.get("tid"),
                          "start_mono_ns": s["mono_ns"], "end_mono_ns": e["mono_ns"],
                          "start_wall_ns": s["wall_ns"], "end_wall_ns": e["wall_ns"],
                          "duration_us": (e["mono_ns"] - s["mono_ns"]) // 1000,
                          "how": e.get("how")})
    out["calls"] = calls
    return out


def ms(a_ns, b_ns):
    return round((b_ns - a_ns) / 1e6, 3)


def dump(obj, path=None):
    text = json.dumps(obj, indent=2, sort_keys=False)
    if path:
        with open(path, "w") as f:
            f.write(text + "\n")
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
