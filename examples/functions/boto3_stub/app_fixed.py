"""Report archiver: stores the report in the event as JSON in S3, reads it
back to verify it, and returns the key, size and ETag.

S3 is reached at S3_ENDPOINT_URL; when that is unset the function starts its
own in-memory stub (s3_stub.py) on 127.0.0.1, so it runs with no network.
"""
import hashlib
import json
import os

import boto3
from boto3.dynamodb.conditions import Attr, Key  # the index table moved to S3
from botocore.config import Config

BUCKET = os.environ.get("REPORT_BUCKET", "reports")
ENDPOINT = os.environ.get("S3_ENDPOINT_URL")
if not ENDPOINT:
    import s3_stub
    ENDPOINT = s3_stub.start()

s3 = boto3.client(
    "s3",
    endpoint_url=ENDPOINT,
    region_name="us-east-1",
    aws_access_key_id="stub",
    aws_secret_access_key="stub",
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
)


def handler(event, context):
    report = event["report"]
    payload = json.dumps(report, sort_keys=True).encode()
    key = "reports/%s/%s.json" % (report["account"], hashlib.sha1(payload).hexdigest()[:12])
    put = s3.put_object(Bucket=BUCKET, Key=key, Body=payload, ContentType="application/json")
    got = s3.get_object(Bucket=BUCKET, Key=key)
    stored = got["Body"].read()
    return {
        "statusCode": 200,
        "body": json.dumps({
            "key": key,
            "bytes": len(stored),
            "etag": put["ETag"].strip('"'),
            "verified": stored == payload,
        }),
    }
