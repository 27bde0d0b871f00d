"""examples/handler.py as an AWS Lambda function, run by awslambdaric (app.handler).

Same imports on the same lines as examples/handler.py (boto3 :10, markdown :11,
tqdm :12): boto3 and tqdm are imported and never used on the request path, markdown
renders each event's "text". Lambda loads it with importlib.import_module("app").
"""
import json  # noqa: F401
import os  # noqa: F401

import boto3  # noqa: F401  imported "for later", never used by the handler
import markdown
from tqdm import tqdm  # noqa: F401  a progress bar, meaningless in a function
import time


def handler(event, context):
    started = time.monotonic_ns()
    html = markdown.markdown(event.get("text", ""))
    _timed(started)
    return {"statusCode": 200, "body": html}


def _timed(started):
    """The function's own timing of a call (from its first line to its last):
    a no-op, except in the runtimes tests' oracle variant, whose sitecustomize
    replaces it with one that logs the span."""
