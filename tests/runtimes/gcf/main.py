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


def handler(request):
    event = request.get_json(silent=True) or {}
    html = markdown.markdown(event.get("text", ""))
    return {"statusCode": 200, "body": html}
