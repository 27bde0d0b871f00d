"""Analytics beacon: classifies the visitor's device from the request's
User-Agent header (mobile / tablet / pc / bot, browser and OS family) and
returns the record the pipeline stores.
"""
import json

from user_agents import parse


def handler(event, context):
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    ua = parse(headers.get("user-agent", ""))
    kind = ("bot" if ua.is_bot else "mobile" if ua.is_mobile
            else "tablet" if ua.is_tablet else "pc" if ua.is_pc else "other")
    record = {
        "page": event.get("path", "/"),
        "device": kind,
        "browser": ua.browser.family,
        "browser_version": ua.browser.version_string,
        "os": ua.os.family,
    }
    return {"statusCode": 200, "body": json.dumps(record, sort_keys=True)}
