"""The same function as ../eager/handler.py with the rarely used import made
lazy: boto3 is imported inside the branch that needs it, so a cold start
that never archives never pays for it.
"""

import markdown


def handler(event, context):
    html = markdown.markdown(event.get("text", ""))
    if event.get("archive"):
        import boto3  # lazy: only the rare archive branch pays for it

        s3 = boto3.client("s3")
        s3.put_object(Bucket=event["bucket"], Key=event["key"], Body=html.encode())
    return {"statusCode": 200, "body": html}
