"""A Markdown-rendering function with a "rarely used" import: boto3 is
imported at module level, but only the rare archive branch needs it.

Every cold start pays boto3's import (~150-300 ms) in init. The fixed
variant is ../lazy/handler.py.
"""

import boto3
import markdown


def handler(event, context):
    html = markdown.markdown(event.get("text", ""))
    if event.get("archive"):
        # The rare branch: keep a copy of the page in S3.
        s3 = boto3.client("s3")
        s3.put_object(Bucket=event["bucket"], Key=event["key"], Body=html.encode())
    return {"statusCode": 200, "body": html}
