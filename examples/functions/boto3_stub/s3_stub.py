"""A tiny in-memory S3 stand-in (path-style PutObject / GetObject / HeadObject)
on 127.0.0.1, so the function talks to "S3" without any network.

start() runs it in a daemon thread on a free port and returns its URL.
"""
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_OBJECTS = {}


class _S3Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_PUT(self):
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        etag = '"%s"' % hashlib.md5(data).hexdigest()
        _OBJECTS[self.path.split("?")[0]] = (data, self.headers.get("Content-Type", "binary/octet-stream"), etag)
        self._reply(200, headers=[("ETag", etag)])

    def do_GET(self):
        obj = _OBJECTS.get(self.path.split("?")[0])
        if obj is None:
            body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>'
                    b"<Message>The specified key does not exist.</Message></Error>")
            return self._reply(404, body, [("Content-Type", "application/xml")])
        data, ctype, etag = obj
        self._reply(200, data, [("Content-Type", ctype), ("ETag", etag),
                                ("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")])

    do_HEAD = do_GET


def start():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _S3Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return "http://127.0.0.1:%d" % server.server_address[1]
