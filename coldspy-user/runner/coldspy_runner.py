"""coldspy's function runner: loads an unmodified handler the way a FaaS
runtime does, invokes it with an event, and reports phase marks to coldspy.

Usage (run by the target's own interpreter; stdlib only, CPython 3.9+):

    python coldspy_runner.py --handler app.py:handler | package.module:handler
        [--event event.json] [--invocations N] [--marks-fd FD]
        [--serve PORT [--warm-up] [--wait-before-bind [--port-file FILE]]]

Marks are JSON lines written to the file descriptor given by --marks-fd (or
the COLDSPY_MARKS_FD environment variable); without one, none are written.
Every mark carries ``ts_ns`` = time.monotonic_ns() (CLOCK_MONOTONIC, the clock
of the kernel's bpf_ktime_get_ns):

    {"name": "runner_ready", "ts_ns": ...}     the runner runs, before the handler import
    {"name": "init_end", "ts_ns": ...}         the handler module is imported
    {"name": "invoke_start", "ts_ns": ...}     before each handler call
    {"name": "invoke_end", "ts_ns": ...}       after each handler call
    {"name": "ready_to_bind", "ts_ns": ...}    --wait-before-bind: initialized, waiting
    {"name": "listening", "ts_ns": ..., "port": P}   --serve: the socket is bound
    {"name": "error", "ts_ns": ..., "kind": K, "message": M}

--serve PORT answers HTTP on 127.0.0.1:PORT (0: any free port, reported in
the listening mark): a POST body is the event (no body: the --event), the
answer is the handler's result as JSON. --warm-up invokes the handler once
before serving. --wait-before-bind is for snapshotting with CRIU, which
cannot dump a process holding a TCP socket (nor a pipe to coldspy): after
init the runner marks ready_to_bind, closes the marks descriptor, and waits
for SIGUSR1; then it binds the port read from --port-file if given (so each
restored copy can be told its own port), else PORT.

Error kinds: usage, handler_not_found, init_error, function_missing,
event_not_found, event_invalid, handler_error. The runner exits with status 3
on a usage error, 4 on a handler/event error found before the first call and
5 when the handler raised.

The runner imports as little as possible itself (json, and socket in --serve
mode) so that the init it reports is the handler's.
"""

import os
import sys
import time

EXIT_USAGE = 3
EXIT_SETUP = 4
EXIT_HANDLER_ERROR = 5

_marks_fd = None


def _mark(name, **fields):
    """Writes one mark line; a single write below PIPE_BUF is atomic."""
    if _marks_fd is None:
        return
    import json

    record = {"name": name, "ts_ns": time.monotonic_ns()}
    record.update(fields)
    line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
    try:
        os.write(_marks_fd, line)
    except OSError:
        pass


class RunnerError(Exception):
    """An error reported as a structured mark and one line on stderr."""

    def __init__(self, kind, message, status):
        Exception.__init__(self, message)
        self.kind = kind
        self.message = message
        self.status = status


def _parse_args(argv):
    """A small hand-written parser: argparse would add its import to init."""
    options = {
        "handler": None,
        "event": None,
        "invocations": 1,
        "marks_fd": os.environ.get("COLDSPY_MARKS_FD"),
        "serve": None,
        "warm_up": False,
        "wait_before_bind": False,
        "port_file": None,
    }
    with_value = {
        "--handler": "handler",
        "--event": "event",
        "--invocations": "invocations",
        "--marks-fd": "marks_fd",
        "--serve": "serve",
        "--port-file": "port_file",
    }
    flags = {"--warm-up": "warm_up", "--wait-before-bind": "wait_before_bind"}
    index = 0
    while index < len(argv):
        arg = argv[index]
        name, has_inline, inline = arg.partition("=")
        if name in with_value:
            if has_inline:
                options[with_value[name]] = inline
            elif index + 1 < len(argv):
                index += 1
                options[with_value[name]] = argv[index]
            else:
                raise RunnerError("usage", "%s needs a value" % name, EXIT_USAGE)
        elif arg in flags:
            options[flags[arg]] = True
        elif arg in ("-h", "--help"):
            sys.stdout.write(__doc__)
            sys.exit(0)
        else:
            raise RunnerError("usage", "unknown argument %r" % arg, EXIT_USAGE)
        index += 1
    if not options["handler"]:
        raise RunnerError("usage", "--handler FILE.py:FUNCTION or MODULE:FUNCTION is required", EXIT_USAGE)
    for key in ("invocations", "marks_fd", "serve"):
        value = options[key]
        if value is None:
            continue
        try:
            options[key] = int(value)
        except ValueError:
            raise RunnerError("usage", "--%s wants a number, got %r" % (key.replace("_", "-"), value), EXIT_USAGE)
    if options["invocations"] < 0:
        raise RunnerError("usage", "--invocations must be 0 or more", EXIT_USAGE)
    return options


def _split_handler(spec):
    """'dir/app.py:handler' -> (dir, 'app', 'handler', path); 'pkg.mod:fn' -> (None, 'pkg.mod', 'fn', None)."""
    module_part, sep, function = spec.rpartition(":")
    if not sep or not module_part or not function:
        raise RunnerError(
            "usage",
            "handler %r must be FILE.py:FUNCTION or MODULE:FUNCTION" % spec,
            EXIT_USAGE,
        )
    if module_part.endswith(".py") or os.sep in module_part:
        path = os.path.abspath(module_part)
        directory, filename = os.path.split(path)
        module_name = filename[:-3] if filename.endswith(".py") else filename
        return directory, module_name, function, path
    return None, module_part, function, None


def _load_handler(spec):
    """Imports the handler module like a FaaS runtime: its directory (or the
    working directory) first on sys.path, then an import statement."""
    directory, module_name, function, path = _split_handler(spec)
    # The runner's own directory is sys.path[0]; the handler's replaces it.
    root = directory if directory is not None else os.getcwd()
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
        sys.path[0] = root
    else:
        sys.path.insert(0, root)
    if path is not None and not os.path.isfile(path):
        raise RunnerError("handler_not_found", "handler file %s does not exist" % path, EXIT_SETUP)
    if path is not None and module_name in sys.modules:
        # The name is taken (a handler file named like a module the runner
        # already loaded, e.g. json.py): load the file under a private name.
        return _exec_file(path, function), function
    module = _import(module_name)
    return _function(module, module_name, function), function


def _import(module_name):
    """Imports through __import__, i.e. the interpreter's own import path
    (import_find_and_load), which coldspy's import probes time; importlib's
    import_module would bypass it."""
    try:
        __import__(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and (module_name == error.name or module_name.startswith(error.name + ".")):
            raise RunnerError("handler_not_found", "handler module %r not found" % module_name, EXIT_SETUP)
        _init_error(module_name, error)
    except Exception as error:  # the handler's import may raise anything
        _init_error(module_name, error)
    return sys.modules[module_name]


def _exec_file(path, function):
    import importlib.util

    spec = importlib.util.spec_from_file_location("_coldspy_handler", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["_coldspy_handler"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        _init_error(path, error)
    return _function(module, path, function)


def _init_error(module_name, error):
    _print_traceback()
    raise RunnerError("init_error", "importing %s raised %s" % (module_name, _describe(error)), EXIT_SETUP)


def _function(module, module_name, function):
    handler = getattr(module, function, None)
    if handler is None:
        raise RunnerError(
            "function_missing",
            "module %s (%s) has no function %r" % (module_name, getattr(module, "__file__", "?"), function),
            EXIT_SETUP,
        )
    if not callable(handler):
        raise RunnerError("function_missing", "%s.%s is not callable" % (module_name, function), EXIT_SETUP)
    return handler


def _load_event(path):
    """Reads and parses the event file; no file means an empty event {}."""
    import json

    if path is None:
        return {}
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise RunnerError("event_not_found", "cannot read event file %s: %s" % (path, error.strerror), EXIT_SETUP)
    return _parse_event(data, "event file %s" % path)


def _parse_event(data, where):
    import json

    try:
        return json.loads(data.decode("utf-8") if data else "{}")
    except (ValueError, UnicodeDecodeError) as error:
        raise RunnerError("event_invalid", "%s is not valid JSON: %s" % (where, error), EXIT_SETUP)


def _describe(error):
    text = str(error)
    return "%s: %s" % (type(error).__name__, text) if text else type(error).__name__


def _print_traceback():
    import traceback

    traceback.print_exc()


class Context:
    """The context object handed to two-argument handlers (AWS Lambda style)."""

    def __init__(self, function_name, request_number):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:coldspy:local:function:" + function_name
        self.memory_limit_in_mb = 0
        self.aws_request_id = "coldspy-%d-%d" % (os.getpid(), request_number)
        self.log_group_name = "coldspy"
        self.log_stream_name = "coldspy"
        self._deadline_ns = time.monotonic_ns() + 900 * 10**9

    def get_remaining_time_in_millis(self):
        return max(0, (self._deadline_ns - time.monotonic_ns()) // 1000000)


def _wants_context(handler):
    """True when the handler takes (event, context), as Lambda calls it."""
    code = getattr(handler, "__code__", None)
    if code is None:
        call = getattr(handler, "__call__", None)
        code = getattr(call, "__code__", None)
        bound = 1
    else:
        bound = 1 if getattr(handler, "__self__", None) is not None else 0
    if code is None:
        return True
    if code.co_flags & 0x04:  # CO_VARARGS
        return True
    return code.co_argcount - bound >= 2


class Invoker:
    """Calls the handler with marks around each call."""

    def __init__(self, handler, function_name):
        self.handler = handler
        self.function_name = function_name
        self.with_context = _wants_context(handler)
        self.count = 0

    def __call__(self, event):
        self.count += 1
        args = (event, Context(self.function_name, self.count)) if self.with_context else (event,)
        _mark("invoke_start")
        try:
            result = self.handler(*args)
        except BaseException as error:
            _mark("invoke_end")
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise
            _print_traceback()
            raise RunnerError("handler_error", "handler raised %s" % _describe(error), EXIT_HANDLER_ERROR)
        _mark("invoke_end")
        return result


def _wait_for_sigusr1():
    """Blocks until SIGUSR1. The signal is blocked first and then waited for
    with a timeout in a loop, so a signal sent early is not lost and a
    restored process simply re-enters the wait."""
    global _marks_fd
    import signal

    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    _mark("ready_to_bind")
    if _marks_fd is not None:
        os.close(_marks_fd)
        _marks_fd = None
    while signal.sigtimedwait([signal.SIGUSR1], 1.0) is None:
        pass
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR1])


def _port_from_file(path, default):
    try:
        with open(path) as file:
            return int(file.read().strip() or default)
    except (OSError, ValueError) as error:
        raise RunnerError("usage", "cannot read a port from %s: %s" % (path, error), EXIT_USAGE)


def _serve(invoker, port, default_event, wait_before_bind, port_file):
    """A minimal HTTP/1.1 server on 127.0.0.1: POST body = event, response =
    the handler's result as JSON; one request per connection."""
    import json
    import socket

    if wait_before_bind:
        _wait_for_sigusr1()
        if port_file is not None:
            port = _port_from_file(port_file, port)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind(("127.0.0.1", port))
    except OSError as error:
        raise RunnerError("usage", "cannot listen on 127.0.0.1:%d: %s" % (port, error.strerror), EXIT_USAGE)
    server.listen(64)
    _mark("listening", port=server.getsockname()[1])
    while True:
        connection, _ = server.accept()
        try:
            _answer(connection, invoker, default_event, json)
        except OSError:
            pass
        finally:
            connection.close()


def _answer(connection, invoker, default_event, json):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method = lines[0].split(" ", 1)[0]
    length = 0
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-length":
            length = int(value.strip() or 0)
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    status = "200 OK"
    try:
        event = _parse_event(body, "request body") if method == "POST" and body else default_event
        payload = json.dumps(invoker(event), default=str)
    except RunnerError as error:
        _mark("error", kind=error.kind, message=error.message)
        status = "400 Bad Request" if error.kind == "event_invalid" else "500 Internal Server Error"
        payload = json.dumps({"error": error.kind, "message": error.message})
    encoded = payload.encode("utf-8")
    connection.sendall(
        (
            "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % (status, len(encoded))
        ).encode("latin-1")
        + encoded
    )


def main(argv):
    global _marks_fd
    try:
        options = _parse_args(argv)
    except RunnerError as error:
        sys.stderr.write("coldspy runner: %s\n" % error.message)
        return error.status
    _marks_fd = options["marks_fd"]
    if _marks_fd is not None:
        # Not inherited by the handler's own children: the pipe must reach
        # end-of-file when the runner exits.
        os.environ.pop("COLDSPY_MARKS_FD", None)
        try:
            os.set_inheritable(_marks_fd, False)
        except OSError:
            sys.stderr.write("coldspy runner: --marks-fd %d is not an open file descriptor\n" % _marks_fd)
            return EXIT_USAGE
    try:
        _mark("runner_ready")
        handler, function_name = _load_handler(options["handler"])
        _mark("init_end")
        event = _load_event(options["event"])
        invoker = Invoker(handler, function_name)
        if options["serve"] is not None:
            if options["warm_up"]:
                invoker(event)
            _serve(invoker, options["serve"], event, options["wait_before_bind"], options["port_file"])
        else:
            for _ in range(options["invocations"]):
                invoker(event)
    except RunnerError as error:
        _mark("error", kind=error.kind, message=error.message)
        sys.stderr.write("coldspy runner: %s\n" % error.message)
        sys.stderr.flush()
        return error.status
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
