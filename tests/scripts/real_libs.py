"""Imports real PyPI libraries with well-known import costs (from the set-up venvs)."""
import boto3  # noqa: F401
import markdown
import requests  # noqa: F401
from PIL import Image  # noqa: F401

print(markdown.markdown("*coldspy*"))
