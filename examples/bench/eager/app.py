"""A function that imports a heavy library eagerly and uses it on a rare branch."""
import json

import boto3  # imported at init for every cold start


def handler(event, context):
    if event.get("upload"):  # rare: most requests never take this branch
        return boto3.client("s3", region_name="us-east-1").meta.region_name
    return json.dumps({"echo": event.get("text", "")})
