"""A heavier function: boto3, markdown and Pillow imported at init.

Nothing at init may hold a connection: CRIU cannot checkpoint a connected
TCP socket on this kernel (create clients on first use).
"""
import boto3
import markdown
from PIL import Image

_IMAGE = Image.new("RGB", (600, 600), (30, 90, 150))


def handler(event, context):
    html = markdown.markdown(event.get("text", "*heavy*"))
    return {"html": html, "boto3": boto3.__version__, "pixels": _IMAGE.size[0] * _IMAGE.size[1]}
