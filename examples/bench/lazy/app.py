"""The same function with the heavy import made lazy: only the rare branch pays for it."""
import json


def handler(event, context):
    if event.get("upload"):  # rare: most requests never take this branch
        import boto3  # imported on first use

        return boto3.client("s3", region_name="us-east-1").meta.region_name
    return json.dumps({"echo": event.get("text", "")})
