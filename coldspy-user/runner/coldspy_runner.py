"""coldspy's function runner: loads an unmodified handler the way a FaaS
runtime does and reports phase marks to coldspy.

    python coldspy_runner.py --handler app.py:handler [--event event.json]
        [--invocations N] [--marks-fd FD]
        [--serve PORT [--warmup] [--wait-before-bind --control-fd FD]]

Marks are lines "NAME MONOTONIC_NS" written to --marks-fd (time.monotonic_ns,
the clock of the kernel's bpf_ktime_get_ns): runner_ready, init_end,
invoke_start, invoke_end, "exact_use NAME..." after each invocation (the
modules whose code, or whose native functions, first ran in it), and
"error KIND MESSAGE" on failure (exit status 3).
Standard library only; CPython 3.9+.
"""
import os
import sys
import time

_MARKS_FD = None


def mark(name, detail=""):
    global _MARKS_FD
    line = "%s %d%s\n" % (name, time.monotonic_ns(), (" " + detail) if detail else "")
    if _MARKS_FD is not None:
        try:
            os.write(_MARKS_FD, line.encode("utf-8", "replace"))
        except OSError:
            # Nobody reads the marks any more: they never break the function.
            _MARKS_FD = None


def fail(kind, message):
    mark("error", "%s %s" % (kind, " ".join(str(message).split())))
    sys.stderr.write("coldspy runner: %s: %s\n" % (kind, message))
    sys.exit(3)


def parse_args(argv):
    args = {"handler": None, "event": None, "invocations": 1, "marks_fd": None,
            "serve": None, "wait_before_bind": False, "control_fd": None, "warmup": False,
            "zygote": False}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--wait-before-bind", "--warmup", "--zygote"):
            args[a[2:].replace("-", "_")] = True
            i += 1
            continue
        if i + 1 >= len(argv):
            fail("usage", "%s needs a value" % a)
        value = argv[i + 1]
        if a == "--handler":
            args["handler"] = value
        elif a == "--event":
            args["event"] = value
        elif a == "--invocations":
            args["invocations"] = int(value)
        elif a == "--marks-fd":
            args["marks_fd"] = int(value)
        elif a == "--serve":
            args["serve"] = int(value)
        elif a == "--control-fd":
            args["control_fd"] = int(value)
        else:
            fail("usage", "unknown option %s" % a)
        i += 2
    if not args["handler"] or ":" not in args["handler"]:
        fail("usage", "--handler must be path/to/app.py:function or package.module:function")
    return args


def _import(name):
    """Imports through the interpreter's import statement machinery
    (import_find_and_load), which coldspy times like -X importtime does."""
    try:
        __import__(name)
    except ModuleNotFoundError as e:
        if e.name == name or name.startswith((e.name or "") + "."):
            fail("handler_missing", "module %s not found (%s)" % (name, e))
        fail("init_raised", "%s: %s" % (type(e).__name__, e))
    except Exception as e:  # noqa: BLE001  any import failure is the handler's
        fail("init_raised", "%s: %s" % (type(e).__name__, e))
    return sys.modules[name]


def load_handler(spec):
    target, _, function = spec.rpartition(":")
    if target.endswith(".py") or os.sep in target:
        path = os.path.abspath(target)
        if not os.path.isfile(path):
            fail("handler_missing", "handler file %s does not exist" % target)
        directory = os.path.dirname(path)
        if directory not in sys.path:
            sys.path.insert(0, directory)
        name = os.path.splitext(os.path.basename(path))[0]
        if name in sys.modules:
            # The name is taken (e.g. a handler file named like a stdlib
            # module already loaded): load the file under a private name.
            import importlib.util
            loader_spec = importlib.util.spec_from_file_location("_coldspy_handler", path)
            module = importlib.util.module_from_spec(loader_spec)
            try:
                loader_spec.loader.exec_module(module)
            except Exception as e:  # noqa: BLE001
                fail("init_raised", "%s: %s" % (type(e).__name__, e))
        else:
            module = _import(name)
    else:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        module = _import(target)
    handler = getattr(module, function, None)
    if not callable(handler):
        fail("function_missing", "%s has no function %s" % (target, function))
    return handler


def load_event(path):
    if path is None:
        return {}
    import json
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        fail("event_missing", "cannot read event %s: %s" % (path, e))
    except ValueError as e:
        fail("event_not_json", "event %s is not JSON: %s" % (path, e))


class ExactUse:
    """First execution per code object, during invocations only: on 3.12+
    sys.monitoring PY_START (Python code) and CALL (native callables) events
    that return DISABLE, so each code object or call site costs one event;
    on 3.9-3.11 a sys.setprofile hook that records each code object and C
    function once (it stays installed during invocations: every call pays a
    set lookup). After each invocation, the modules seen for the first time."""

    TOOL = 4  # a free tool id (0-5); coldspy's own

    def __init__(self):
        self.files = set()
        self.native = set()
        self.reported = set()
        self.monitoring = getattr(sys, "monitoring", None)
        if self.monitoring is not None:
            try:
                self.monitoring.use_tool_id(self.TOOL, "coldspy")
            except ValueError:
                self.monitoring = None

    def _py_start(self, code, offset):
        self.files.add(code.co_filename)
        return self.monitoring.DISABLE

    def _call(self, code, offset, callable_, arg0):
        if not hasattr(callable_, "__code__"):
            self.native.add(_native_module(callable_))
        return self.monitoring.DISABLE

    def _profile(self, frame, event, arg):
        if event == "call":
            self.files.add(frame.f_code.co_filename)
        elif event == "c_call":
            self.native.add(_native_module(arg))

    def start(self):
        m = self.monitoring
        if m is not None:
            m.register_callback(self.TOOL, m.events.PY_START, self._py_start)
            m.register_callback(self.TOOL, m.events.CALL, self._call)
            m.set_events(self.TOOL, m.events.PY_START | m.events.CALL)
            m.restart_events()
        else:
            sys.setprofile(self._profile)

    def stop(self):
        m = self.monitoring
        if m is not None:
            m.set_events(self.TOOL, 0)
        else:
            sys.setprofile(None)

    def new_modules(self):
        by_file = {}
        for name, module in list(sys.modules.items()):
            f = getattr(module, "__file__", None)
            if isinstance(f, str):
                by_file[f] = name
        seen = {by_file[f] for f in self.files if f in by_file}
        seen |= {n for n in self.native if n}
        new = sorted(seen - self.reported)
        self.reported |= seen
        return [n for n in new if " " not in n]


def _native_module(fn):
    module = getattr(fn, "__module__", None)
    if not isinstance(module, str):
        owner = getattr(fn, "__self__", None)
        module = getattr(type(owner), "__module__", None) if owner is not None else None
    return module if isinstance(module, str) else None


_EXACT = None


def invoke(handler, event):
    mark("invoke_start")
    if _EXACT is not None:
        _EXACT.start()
    try:
        result = handler(event, None)
    except Exception as e:  # noqa: BLE001
        if _EXACT is not None:
            _EXACT.stop()
        fail("handler_raised", "%s: %s" % (type(e).__name__, e))
    if _EXACT is not None:
        _EXACT.stop()
    mark("invoke_end")
    if _EXACT is not None:
        mark("exact_use", " ".join(_EXACT.new_modules()))
    return result


def serve(handler, port, wait_before_bind, control_fd):
    global _MARKS_FD
    import json
    from http.server import BaseHTTPRequestHandler, HTTPServer
    if wait_before_bind:
        # A process holding a TCP socket cannot be checkpointed here: close
        # the marks pipe and wait, initialized, for a port line on the
        # control pipe. The snapshot is taken while this read blocks; each
        # restored copy gets a fresh pipe in its place (criu --inherit-fd),
        # so concurrent copies are told their own ports.
        mark("ready_to_bind")
        if _MARKS_FD is not None:
            os.close(_MARKS_FD)
            _MARKS_FD = None
        line = b""
        while not line.endswith(b"\n"):
            chunk = os.read(control_fd, 64)
            if not chunk:
                sys.exit(0)  # nobody will ever tell us a port
            line += chunk
        os.close(control_fd)
        port = int(line.strip())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            event = json.loads(body or b"{}")
            result = invoke(handler, event)
            payload = json.dumps(result).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", port), Handler)
    mark("listening", str(server.server_address[1]))
    server.serve_forever()


def zygote(handler):
    """Fork-server baseline: initialized once, forks a serving child per
    port read from stdin and answers "forked PID" on stdout."""
    import signal
    import json  # noqa: F401  warm: what each forked server needs
    import http.server  # noqa: F401
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    for line in sys.stdin:
        port = int(line.strip())
        pid = os.fork()
        if pid == 0:
            serve(handler, port, False, None)
            os._exit(0)
        sys.stdout.write("forked %d\n" % pid)
        sys.stdout.flush()


def main():
    global _MARKS_FD, _EXACT
    args = parse_args(sys.argv[1:])
    _MARKS_FD = args["marks_fd"]
    mark("runner_ready")
    event = load_event(args["event"])
    handler = load_handler(args["handler"])
    mark("init_end")
    if args["zygote"]:
        zygote(handler)
        return
    if args["serve"] is not None:
        if args["warmup"]:
            invoke(handler, event)
        serve(handler, args["serve"], args["wait_before_bind"], args["control_fd"])
        return
    # Exact use is reported for recorded invocations only (not served ones).
    if _MARKS_FD is not None:
        _EXACT = ExactUse()
    for _ in range(args["invocations"]):
        invoke(handler, event)


if __name__ == "__main__":
    main()
