"""A tiny SSM Parameter Store stand-in (the JSON protocol's GetParameter) on
127.0.0.1, so the function reads its "parameter" without any network.

start() runs it in a daemon thread on a free port and returns its URL.
"""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PARAMETERS = {
    "/flags/rules": json.dumps({
        "new_checkout": {"percent": 20},
        "dark_mode": {"percent": 50, "allow": ["42"]},
        "beta_search": {"percent": 5},
    }),
}


class _SsmHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        target = self.headers.get("X-Amz-Target", "")
        name = request.get("Name")
        if target.endswith(".GetParameter") and name in PARAMETERS:
            code, body = 200, {"Parameter": {"Name": name, "Type": "String",
                                             "Value": PARAMETERS[name], "Version": 1}}
        else:
            code, body = 400, {"__type": "ParameterNotFound", "message": str(name)}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def start():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SsmHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return "http://127.0.0.1:%d" % server.server_address[1]
