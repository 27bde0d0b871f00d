"""examples/handler.py as a Google Cloud Functions HTTP function (functions-framework).

Same imports on the same lines as examples/handler.py (boto3 :10, markdown :11,
tqdm :12). Served with: functions-framework --target=handler --source main.py.
The framework loads this file with spec.loader.exec_module (no import statement).
"""
import json  # noqa: F401
import os  # noqa: F401

import boto3  # noqa: F401  imported "for later", never used by the handler
import markdown
from tqdm import tqdm  # noqa: F401  a progress bar, meaningless in a function
import time


def handler(request):
    started = time.monotonic_ns()
    event = request.get_json(silent=True) or {}
    html = markdown.markdown(event.get("text", ""))
    _timed(started)
    return {"statusCode": 200, "body": html}


def _timed(started):
    """The function's own timing of a call (from its first line to its last):
    a no-op, except in the runtimes tests' oracle variant, whose sitecustomize
    replaces it with one that logs the span."""
