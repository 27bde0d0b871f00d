"""A small HTTP function: its module body is over in well under a millisecond,
long before coldspy reads that it began (the module's code object is freed by
then), and gunicorn forks its worker soon after."""
import json


def handler(request):
    event = request.get_json(silent=True) or {}
    return json.dumps({"statusCode": 200, "length": len(event.get("text", ""))})
