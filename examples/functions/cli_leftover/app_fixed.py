"""Log-digest function: counts log records by level and service, finds the
error burst window, and returns the digest. It started life as a CLI
(`python app.py logs.jsonl`) and was wrapped as a Lambda handler.
"""
import json
import sys
from collections import Counter

import click
from importlib.metadata import version
from dateutil import parser as dateparser
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

DATEUTIL_VERSION = version("python-dateutil")
console = Console(stderr=True)


def digest(records, window_s=60):
    levels, services, errors = Counter(), Counter(), []
    for rec in tqdm(records, desc="records", unit="rec"):
        levels[rec["level"]] += 1
        services[rec["service"]] += 1
        if rec["level"] == "ERROR":
            errors.append(dateparser.isoparse(rec["ts"]).timestamp())
    burst, start = 0, None
    for i, t in enumerate(errors):
        n = sum(1 for u in errors[i:] if u - t < window_s)
        if n > burst:
            burst, start = n, t
    return {"levels": dict(sorted(levels.items())), "services": dict(sorted(services.items())),
            "error_burst": burst, "burst_start": start, "parser": "dateutil " + DATEUTIL_VERSION}


def show(result):
    table = Table(title="log digest")
    table.add_column("level")
    table.add_column("count", justify="right")
    for level, n in result["levels"].items():
        table.add_row(level, str(n))
    console.print(table)


def handler(event, context):
    result = digest(event["records"], event.get("window_s", 60))
    show(result)
    return {"statusCode": 200, "body": json.dumps(result, sort_keys=True)}


@click.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--window", default=60, show_default=True, help="burst window, seconds")
def main(path, window):
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    result = digest(records, window)
    show(result)
    json.dump(result, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
