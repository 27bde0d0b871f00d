"""Order-confirmation e-mail renderer: fills Jinja2 templates from the event
and returns the subject, HTML and text bodies (an SES/SendGrid step sends it).
"""
import os

import json
from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["money"] = lambda cents: "%d.%02d" % divmod(int(cents), 100)
html_template = env.get_template("order.html")
text_template = env.get_template("order.txt")


def handler(event, context):
    order = event["order"]
    items = order["items"]
    total = sum(i["unit_cents"] * i["qty"] for i in items)
    ctx = {"customer": event["customer"], "order": order, "items": items, "total": total}
    body = {
        "subject": "Your order %s is confirmed" % order["number"],
        "html": html_template.render(**ctx),
        "text": text_template.render(**ctx),
    }
    return {"statusCode": 200, "body": json.dumps(body, sort_keys=True)}
