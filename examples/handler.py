"""A small serverless-style function: renders Markdown from its event.

It imports boto3 and tqdm at module level but never uses them on the request
path (the kind of waste coldspy finds), and markdown, which it does use.
Run directly, it calls the handler once with examples/event.json.
"""
import json
import os

import boto3  # noqa: F401  imported "for later", never used by the handler
import markdown
from tqdm import tqdm  # noqa: F401  a progress bar, meaningless in a function


def handler(event, context):
    html = markdown.markdown(event.get("text", ""))
    return {"statusCode": 200, "body": html}


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "event.json")) as f:
        event = json.load(f)
    for _ in range(1000):
        result = handler(event, None)
    print(result["body"][:60])
