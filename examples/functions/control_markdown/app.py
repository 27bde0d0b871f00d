"""Docs-preview function: renders a Markdown document (with tables, fenced
code, a table of contents and footnotes) to HTML and returns it with its TOC.
"""
import json

import markdown

EXTENSIONS = ["tables", "fenced_code", "toc", "footnotes", "sane_lists"]
CONFIG = {"toc": {"permalink": False, "toc_depth": "2-3"}}


def handler(event, context):
    md = markdown.Markdown(extensions=EXTENSIONS, extension_configs=CONFIG, output_format="html")
    html = md.convert(event.get("markdown", ""))
    body = {"html": html, "toc": md.toc_tokens, "title": event.get("title", "")}
    return {"statusCode": 200, "body": json.dumps(body, sort_keys=True)}
