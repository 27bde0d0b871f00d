"""A heavier function, the way a real one starts: boto3, markdown and Pillow
imported, and the AWS clients it uses created at init so that warm requests
reuse them (the usual advice for functions).

Nothing at init may hold a connection: CRIU cannot checkpoint a connected
TCP socket on this kernel. botocore clients connect on their first call, so
creating them at init is fine; nothing here calls AWS.
"""
import boto3
import markdown
from PIL import Image

# Credentials as a function gets them (the environment), here fixed, so that
# botocore does not ask the instance metadata service (a connection).
_SESSION = boto3.session.Session(
    aws_access_key_id="AKIDCOLDSPYEXAMPLE",
    aws_secret_access_key="coldspy-example-secret",
    region_name="us-east-1",
)
_CLIENTS = {name: _SESSION.client(name) for name in ("s3", "dynamodb", "sqs")}
_IMAGE = Image.new("RGB", (600, 600), (30, 90, 150))


def handler(event, context):
    html = markdown.markdown(event.get("text", "*heavy*"))
    return {
        "html": html,
        "boto3": boto3.__version__,
        "clients": sorted(_CLIENTS),
        "pixels": _IMAGE.size[0] * _IMAGE.size[1],
    }
