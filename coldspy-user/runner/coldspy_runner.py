"""coldspy's function runner: loads an unmodified handler the way a FaaS
runtime does and reports phase marks to coldspy.

    python coldspy_runner.py --handler app.py:handler [--event event.json]
        [--invocations N] [--marks-fd FD] [--defer MOD[,MOD...]] [--answers]
        [--serve PORT [--warmup] [--wait-before-bind --control-fd FD]]

Marks are lines "NAME MONOTONIC_NS" written to --marks-fd (time.monotonic_ns,
the clock of the kernel's bpf_ktime_get_ns): runner_ready, init_end,
invoke_start, invoke_end, "exact_use NAME..." after each invocation (the
modules whose code, or whose native functions, first ran in it), and
"error KIND MESSAGE" on failure (exit status 3).

--defer defers the named imports without changing the handler's code (see
Defer); after init_end the runner reports "defer method METHOD" and, per
name, "defer deferred NAME", "defer loaded NAME SITE" (its code ran at init
anyway, first run from SITE) or "defer not_imported NAME"; after each
invocation "defer used NAME SITE" for those it loaded. --answers reports
"answer SHA256" of each return value, JSON-serialised with sorted keys
("answer unserializable TYPE" when it is not JSON).
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
            "zygote": False, "defer": [], "answers": False, "init_use": False}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--wait-before-bind", "--warmup", "--zygote", "--answers", "--init-use"):
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
        elif a == "--defer":
            args["defer"].extend(n.strip() for n in value.split(",") if n.strip())
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


def init_uses(handler):
    """Modules the handler module's own top-level code names (outside
    function bodies): `X.f()` after `import X`, `Y()` after `from X import
    Y`, `@click.command()`. Static and conservative: such a module's code runs
    at init (or may), so it is never advised for removal. Read from the
    handler's source after init, so it costs init nothing."""
    import ast
    module = sys.modules.get(getattr(handler, "__module__", None) or "")
    path = getattr(module, "__file__", None)
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, TypeError, ValueError):
        return []
    bound = {}
    used = set()
    names = vars(module) if module is not None else {}

    def defined_in(name):
        # Where the bound object lives: `from pydantic import Field` binds
        # pydantic.fields.Field, loaded by pydantic's lazy __getattr__.
        value = names.get(name)
        if value is None:
            return set()
        if isinstance(value, type(sys)):
            where = getattr(value, "__name__", None)
        else:
            where = getattr(value, "__module__", None)
        return {where} if isinstance(where, str) else set()

    def visit(node, top):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound.setdefault(alias.asname, set()).add(alias.name)
                else:
                    # `import a.b` binds `a`; a use of `a` may reach `a.b`.
                    top = alias.name.split(".")[0]
                    bound.setdefault(top, set()).update({top, alias.name})
            return
        if isinstance(node, ast.ImportFrom):
            if node.module and not node.level:
                for alias in node.names:
                    name = alias.asname or alias.name
                    bound.setdefault(name, set()).update({node.module} | defined_in(name))
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            # Decorators and defaults run at definition; bodies do not.
            for child in getattr(node, "decorator_list", []):
                visit(child, top)
            for child in ast.iter_child_nodes(node.args):
                visit(child, top)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in bound:
            used.update(bound[node.id])
        for child in ast.iter_child_nodes(node):
            visit(child, top)

    for statement in tree.body:
        visit(statement, True)
    return sorted(used)


def code_uses(handler):
    """Where the handler module's function bodies name an imported module:
    `module=function:line`, the first such line per module. Static: a module
    no recorded invocation ran but that a function names (an export taken by
    a few requests a month) is needed by some request, so it is advised to
    move into that function, never to be removed. Read after init."""
    import ast
    module = sys.modules.get(getattr(handler, "__module__", None) or "")
    path = getattr(module, "__file__", None)
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, TypeError, ValueError):
        return []
    bound = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound.setdefault(alias.asname, set()).add(alias.name)
                else:
                    top = alias.name.split(".")[0]
                    bound.setdefault(top, set()).update({top, alias.name})
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                # `from a import b`: b is a name of a, or the sub-module a.b.
                bound.setdefault(alias.asname or alias.name, set()).update(
                    {node.module, "%s.%s" % (node.module, alias.name)})
    first = {}

    def body(function, prefix):
        name = prefix + function.name
        for child in function.body:
            for node in ast.walk(child):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    for m in bound.get(node.id, ()):
                        if m not in first or node.lineno < first[m][1]:
                            first[m] = (name, node.lineno)

    def scope(nodes, prefix):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body(node, prefix)
            elif isinstance(node, ast.ClassDef):
                scope(node.body, prefix + node.name + ".")

    scope(tree.body, "")
    return sorted("%s=%s:%d" % (m, f, line) for m, (f, line) in first.items())


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


# --- --defer: the named imports deferred without changing the handler ---

_PHASE = [0]  # 0 during init, then the 1-based invocation running


def _site():
    """file:line of the innermost frame that is neither importlib's nor the
    runner's: the code whose import or attribute read ran the module."""
    runner = sys._getframe(0).f_code.co_filename
    importlib_pkg = sys.modules.get("importlib")
    importlib_dir = os.path.dirname(getattr(importlib_pkg, "__file__", None) or "<none>/")
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if (name != runner and not name.startswith("<frozen ")
                and not os.path.dirname(name).startswith(importlib_dir)):
            return "%s:%d" % (name, frame.f_lineno)
        frame = frame.f_back
    return "?"


class Defer:
    """Defers the named modules (exact names: `pandas`, `scipy.stats`).

    CPython 3.15+ (PEP 810, sys.set_lazy_imports_filter): every module-level
    import of a named module, or `from PKG import NAME` of one, becomes a
    lazy import, as if written `lazy import` (imports inside functions and
    try blocks stay eager, as PEP 810 defines). Before 3.15: a meta-path
    finder gives the named modules importlib.util.LazyLoader's treatment (a
    module object whose code runs at the first attribute read), except that
    the import system's own reads of the module's metadata (`__spec__`,
    `__name__`, ...) do not run it: with LazyLoader itself a second
    `import X` runs X (CPython reads X.__spec__ to check that X finished
    initializing), though nothing used it. `from X import name` reads X, so
    it runs X at once (not deferrable before 3.15)."""

    def __init__(self, names):
        self.names = set(names)
        self.loaded = {}  # name -> (site, phase) of the first run of its code
        self.before = {n for n in self.names if n in sys.modules}
        self.pep810 = hasattr(sys, "set_lazy_imports_filter") and hasattr(sys, "set_lazy_imports")
        self.reported = set()

    def install(self):
        if self.pep810:
            names = self.names

            def lazy_filter(importer, name, fromlist):
                if name in names:
                    return True
                return bool(fromlist) and any(("%s.%s" % (name, f)) in names for f in fromlist)

            sys.set_lazy_imports_filter(lazy_filter)
            sys.set_lazy_imports("all")
        sys.meta_path.insert(0, _DeferFinder(self))

    def method(self):
        return "pep810" if self.pep810 else "lazy_loader"

    def ran(self, name):
        if name not in self.loaded:
            self.loaded[name] = (_site(), _PHASE[0])

    def report_init(self):
        mark("defer", "method " + self.method())
        lazy = getattr(sys, "lazy_modules", ())
        for name in sorted(self.names):
            module = sys.modules.get(name)
            if name in self.before:
                mark("defer", "loaded %s before the handler (interpreter start-up or coldspy's runner)" % name)
            elif type(module) is _DeferredModule or (module is None and name in lazy):
                mark("defer", "deferred " + name)
            elif module is None:
                mark("defer", "not_imported " + name)
            else:
                site = self.loaded.get(name, ("?", 0))[0]
                mark("defer", "loaded %s %s" % (name, site))
            if module is not None and type(module) is not _DeferredModule:
                self.reported.add(name)

    def report_invocation(self):
        for name in sorted(self.names - self.reported):
            module = sys.modules.get(name)
            if module is not None and type(module) is not _DeferredModule:
                self.reported.add(name)
                mark("defer", "used %s %s" % (name, self.loaded.get(name, ("?", 0))[0]))


class _DeferFinder:
    """First on sys.meta_path: notes where a named module is imported and,
    before 3.15, hands it to _DeferLoader."""

    def __init__(self, defer):
        self.defer = defer

    def find_spec(self, name, path=None, target=None):
        if name not in self.defer.names:
            return None
        if self.defer.pep810:
            # Found by the next finder; reached when the import runs (eager
            # or a lazy import's first use): where it ran.
            self.defer.ran(name)
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is None:
                continue
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _DeferLoader(spec.loader, self.defer)
            return spec
        return None


class _DeferLoader:
    """Creates the module with the real loader and leaves it unexecuted, a
    _DeferredModule until its first attribute read (the algorithm of
    importlib.util.LazyLoader)."""

    def __init__(self, loader, defer):
        self.loader = loader
        self.defer = defer

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__spec__.loader = self.loader
        module.__loader__ = self.loader
        _PENDING[id(module)] = (self.loader, module.__dict__.copy(), module.__spec__.name, self.defer)
        module.__class__ = _DeferredModule


_PENDING = {}
# Read without running the module: what the import system and repr() read.
_METADATA = frozenset(("__spec__", "__name__", "__loader__", "__package__", "__file__",
                       "__cached__", "__class__"))


def _run_deferred(module):
    pending = _PENDING.pop(id(module), None)
    if pending is None:
        return
    loader, attrs_then, name, defer = pending
    module.__class__ = types_ModuleType
    defer.ran(name)
    attrs_now = types_ModuleType.__getattribute__(module, "__dict__")
    updated = {k: v for k, v in attrs_now.items()
               if k not in attrs_then or attrs_then[k] is not v}
    loader.exec_module(module)
    if name in sys.modules and sys.modules[name] is not module:
        raise ValueError("module object for %r substituted in sys.modules during a lazy load" % name)
    attrs_now.update(updated)


types_ModuleType = type(sys)


class _DeferredModule(types_ModuleType):
    """A module whose code has not run yet: any read but its metadata runs it."""

    def __getattribute__(self, attr):
        if attr in _METADATA:
            return types_ModuleType.__getattribute__(self, attr)
        _run_deferred(self)
        return getattr(self, attr)

    def __delattr__(self, attr):
        _run_deferred(self)
        delattr(self, attr)


def _answer(result):
    """sha256 of the return value as JSON with sorted keys."""
    import hashlib
    import json
    try:
        try:
            text = json.dumps(result, sort_keys=True)
        except TypeError:
            text = json.dumps(result)  # keys of mixed types cannot be sorted
    except (TypeError, ValueError) as e:
        return "unserializable %s" % " ".join(("%s: %s" % (type(e).__name__, e)).split())[:200]
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


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
    # The socket layer alone: `http.server` (with `ssl`, `email` and `http.client`)
    # cost a no-op function 88 modules, ≈ 8 MiB of its snapshot and tens of
    # ms of its vanilla start; `socket` adds `enum` and `selectors`.
    import _socket
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

    server = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    server.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)
    mark("listening", str(server.getsockname()[1]))
    while True:
        fd, _ = server._accept()
        conn = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM, 0, fd)
        try:
            conn.settimeout(10)
            _answer_request(conn, handler, json)
        except OSError:
            pass  # the client went away or stalled: serve the next one
        finally:
            conn.close()


_NO_EVENT = object()


def _answer_request(conn, handler, json):
    """Reads one HTTP request, invokes the handler with its JSON body as the
    event and answers 200 with the result as JSON (400 if it is no request)."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) <= 1 << 20:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, separator, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0 if separator and len(lines[0].split()) == 3 else None
    for header in lines[1:] if length is not None else ():
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip()) if value.strip().isdigit() else None
    while length is not None and len(body) < length:
        chunk = conn.recv(min(65536, length - len(body)))
        if not chunk:
            return
        body += chunk
    try:
        event = _NO_EVENT if length is None else json.loads(body[:length] or b"{}")
    except ValueError:
        event = _NO_EVENT
    if event is _NO_EVENT:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        return
    payload = json.dumps(invoke(handler, event)).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                 b"Connection: close\r\n\r\n" % len(payload) + payload)


def zygote(handler):
    """Fork-server baseline: initialized once, forks a serving child per
    port read from stdin and answers "forked PID" on stdout."""
    import signal
    import json  # noqa: F401  warm: what each forked server needs
    import _socket  # noqa: F401
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
    defer = None
    if args["defer"]:
        defer = Defer(args["defer"])
        defer.install()
    handler = load_handler(args["handler"])
    mark("init_end")
    if args["init_use"] and _MARKS_FD is not None:
        # After init_end, so init pays nothing; only when recording (a bench
        # times end to end, which must not include this).
        mark("init_use", " ".join(init_uses(handler)))
        mark("code_use", " ".join(code_uses(handler)))
    if defer is not None:
        defer.report_init()
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
    for n in range(args["invocations"]):
        _PHASE[0] = n + 1
        result = invoke(handler, event)
        if defer is not None:
            defer.report_invocation()
        if args["answers"]:
            mark("answer", _answer(result))


if __name__ == "__main__":
    main()
