"""examples/handler.py as an OpenFaaS python3-http function (function/handler.py).

Same imports on the same lines as examples/handler.py (boto3 :10, markdown :11,
tqdm :12). index.py imports it with `from function import handler` and calls
handler.handle(event, context) for each request, as the python3-http template does.
"""
import json
import os  # noqa: F401

import boto3  # noqa: F401  imported "for later", never used by the handler
import markdown
from tqdm import tqdm  # noqa: F401  a progress bar, meaningless in a function
import time


def handle(event, context):
    started = time.monotonic_ns()
    data = json.loads(event.body or b"{}")
    html = markdown.markdown(data.get("text", ""))
    _timed(started)
    return {"statusCode": 200, "body": html}


def _timed(started):
    """The function's own timing of a call (from its first line to its last):
    a no-op, except in the runtimes tests' oracle variant, whose sitecustomize
    replaces it with one that logs the span."""
