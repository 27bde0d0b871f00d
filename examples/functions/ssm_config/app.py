"""Feature-flag evaluator: reads the flag rules from SSM Parameter Store once
per container, at init, and evaluates them for the user of each request.

SSM is reached at SSM_ENDPOINT_URL; when that is unset the function starts
its own stand-in (ssm_stub.py) on 127.0.0.1, so it runs with no network.
"""
import hashlib
import json
import os

import boto3

ENDPOINT = os.environ.get("SSM_ENDPOINT_URL")
if not ENDPOINT:
    import ssm_stub
    ENDPOINT = ssm_stub.start()

ssm = boto3.client("ssm", endpoint_url=ENDPOINT, region_name="us-east-1",
                   aws_access_key_id="stub", aws_secret_access_key="stub")
RULES = json.loads(ssm.get_parameter(Name="/flags/rules")["Parameter"]["Value"])


def _bucket(user, name):
    return int(hashlib.sha256(f"{name}:{user}".encode()).hexdigest()[:8], 16) % 100


def handler(event, context):
    user = str(event["user"])
    flags = {name: _bucket(user, name) < rule["percent"] or user in rule.get("allow", [])
             for name, rule in RULES.items()}
    return {"statusCode": 200, "body": json.dumps(flags, sort_keys=True)}
