"""A local AWS Lambda Runtime API (2018-06-01) for awslambdaric, on 127.0.0.1.

Endpoints (those awslambdaric 4.2.x calls):
  GET  /2018-06-01/runtime/invocation/next            hands out the next event
  POST /2018-06-01/runtime/invocation/{id}/response   202
  POST /2018-06-01/runtime/invocation/{id}/error      202
  POST /2018-06-01/runtime/init/error                 202
  (GET /2018-06-01/runtime/restore/next: 200, only for SnapStart, never used here)

Every event is logged as one JSON line with time.monotonic_ns() and time.time_ns():
  next_request  a GET .../next arrived (the first one = the runtime finished init,
                i.e. awslambdaric.bootstrap.run() returned from _get_handler())
  handout       the event is about to be written to the runtime (its mono_ns is taken
                just before the write; the window starts there)
  response      POST .../{id}/response fully read (body included, "kind": "response")
  error         POST .../{id}/error fully read ("kind": "error")
  init_error    POST .../init/error
  exhausted     a GET .../next after the last event

After the last event (on_exhausted):
  "hang"   (default) keep the GET .../next open, as real Lambda does between
           invocations; the driver then ends the runtime with SIGTERM (real Lambda's
           shutdown: SIGKILL, or SIGTERM first when extensions are registered).
           awslambdaric installs no signal handler, so SIGTERM ends it at once with
           the default action (returncode -15), wherever it is.
  "error"  answer 500: runtime_client.next() (C++, aws-lambda-cpp) fails with
           "Failed to get next invocation. Http Response code: 500", the Python side
           raises RuntimeError("Failed to get next") (wrapped in FaultException
           'Runtime.LambdaRuntimeClientError' when AWS_EXECUTION_ENV turns on thread
           polling) out of bootstrap.run(), and the process exits with status 1 and
           a traceback on stderr. There is no answer
           that makes awslambdaric exit 0: its loop is `while True`.

Events are released either all at once (default) or one by one with release()
(the driver's --keep-warm mode).

Standalone: python3 runtime_api_stub.py --events N [--log F] [--port-file F]
"""
import argparse
import json
import os
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class RuntimeApiStub:
    def __init__(self, events, log_path, keep_warm=False, on_exhausted="hang",
                 function_arn="arn:aws:lambda:us-east-1:000000000000:function:coldspy"):
        self.events = [e if isinstance(e, bytes) else json.dumps(e).encode() for e in events]
        self.log_path = log_path
        self.on_exhausted = on_exhausted
        self.function_arn = function_arn
        self.lock = threading.Condition()
        self.released = 0 if keep_warm else len(self.events)
        self.handed = 0
        self.invocations = []  # dicts, in handout order
        self.by_id = {}
        self.next_requests = []
        self.init_errors = []
        self.answered = 0
        self.closed = False
        self._log_f = open(log_path, "a") if log_path else None
        self.server = None
        self.port = None

    # -- logging ---------------------------------------------------------------
    def log(self, kind, **fields):
        rec = {"kind": kind, "mono_ns": time.monotonic_ns(), "wall_ns": time.time_ns()}
        rec.update(fields)
        with self.lock:
            if self._log_f:
                self._log_f.write(json.dumps(rec) + "\n")
                self._log_f.flush()
        return rec

    # -- control ---------------------------------------------------------------
    def start(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                BaseHTTPRequestHandler.setup(self)
                # No Nagle: a response must not wait for the runtime's delayed ACK.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *a):
                pass

            def _send(self, code, body=b"", headers=None):
                # Status line, headers and body leave in one write (one segment).
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self._headers_buffer.append(b"\r\n" + body)
                self.flush_headers()
                self.wfile.flush()

            def do_GET(self):
                if self.path == PREFIX + "/invocation/next":
                    stub._serve_next(self)
                elif self.path == PREFIX + "/restore/next":
                    self._send(200)
                else:
                    self._send(404, b'{"errorMessage": "unknown path"}')

            def do_POST(self):
                arrived = time.monotonic_ns()
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                parts = self.path[len(PREFIX):].strip("/").split("/")
                if parts == ["init", "error"]:
                    stub._init_error(body, self.headers)
                    self._send(202, b'{"status": "OK"}')
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    stub._answer(parts[1], parts[2], body, arrived, self.headers)
                    self._send(202, b'{"status": "OK"}')
                elif parts == ["restore", "error"]:
                    self._send(202)
                else:
                    self._send(404, b'{"errorMessage": "unknown path"}')

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # The runtime killed mid-connection (how a run ends): not an error.
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.log("listening", port=self.port, events=len(self.events))
        return self.port

    def release(self, n=1):
        with self.lock:
            self.released = min(len(self.events), self.released + n)
            self.lock.notify_all()

    def close(self):
        with self.lock:
            self.closed = True
            self.lock.notify_all()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
        if self._log_f:
            self._log_f.close()
            self._log_f = None

    def wait(self, pred, timeout):
        end = time.monotonic() + timeout
        with self.lock:
            while not pred():
                left = end - time.monotonic()
                if left <= 0 or self.closed:
                    return pred()
                self.lock.wait(min(left, 0.5))
            return True

    def all_answered(self):
        return self.answered >= len(self.events)

    # -- request handling ----------------------------------------------------
    def _serve_next(self, h):
        rec = self.log("next_request", seq=len(self.next_requests))
        with self.lock:
            self.next_requests.append(rec)
            self.lock.notify_all()
            while True:
                if self.closed:
                    return
                if self.handed < self.released:
                    seq = self.handed
                    self.handed += 1
                    break
                if self.handed >= len(self.events) and self.on_exhausted == "error":
                    seq = None
                    break
                self.lock.wait(0.5)
        if seq is None:
            self.log("exhausted", answer=500)
            h._send(500, b'{"errorMessage": "no more events", "errorType": "ColdspyStubExhausted"}',
                    {"Content-Type": "application/json"})
            return
        rid = str(uuid.uuid4())
        deadline_ms = int(time.time() * 1000) + 900_000
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": rid,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
            "Lambda-Runtime-Trace-Id": "Root=1-00000000-%024x;Parent=%016x;Sampled=0" % (seq, seq),
        }
        # The handout time is taken before the event leaves: once it is sent the
        # runtime may run the handler before this thread is scheduled again.
        before_mono, before_wall = time.monotonic_ns(), time.time_ns()
        h._send(200, self.events[seq], headers)
        self.log("handout", seq=seq, request_id=rid, sent_from_mono_ns=before_mono)
        inv = {"seq": seq, "request_id": rid,
               "handout_mono_ns": before_mono, "handout_wall_ns": before_wall}
        with self.lock:
            self.invocations.append(inv)
            self.by_id[rid] = inv
            self.lock.notify_all()

    def _answer(self, rid, kind, body, arrived_mono, headers):
        text = body.decode("utf-8", "replace")
        rec = self.log(kind, request_id=rid, body=text, request_started_mono_ns=arrived_mono,
                       error_type=headers.get("Lambda-Runtime-Function-Error-Type"))
        with self.lock:
            inv = self.by_id.get(rid)
            if inv is not None and "response_mono_ns" not in inv:
                inv.update({"kind": kind, "response_mono_ns": rec["mono_ns"],
                            "response_wall_ns": rec["wall_ns"], "body": text})
                inv["client_ms"] = round((rec["mono_ns"] - inv["handout_mono_ns"]) / 1e6, 3)
                self.answered += 1
            self.lock.notify_all()

    def _init_error(self, body, headers):
        rec = self.log("init_error", body=body.decode("utf-8", "replace"),
                       error_type=headers.get("Lambda-Runtime-Function-Error-Type"))
        with self.lock:
            self.init_errors.append(rec)
            self.lock.notify_all()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1)
    ap.add_argument("--event-file", help="JSON event served N times (default: a Markdown text)")
    ap.add_argument("--log", help="JSON-lines log file")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--on-exhausted", choices=("hang", "error"), default="error")
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    event = json.load(open(a.event_file)) if a.event_file else {"text": "# hi\n\n*there*"}
    stub = RuntimeApiStub([event] * a.events, a.log, on_exhausted=a.on_exhausted)
    port = stub.start()
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(a.port_file + ".tmp", a.port_file)
    print("AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d" % port, flush=True)
    ok = stub.wait(stub.all_answered, a.timeout)
    if a.on_exhausted == "error":
        stub.wait(lambda: stub.handed >= len(stub.events) and len(stub.next_requests) > len(stub.events), 5)
    stub.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
