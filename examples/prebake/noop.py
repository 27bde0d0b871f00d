"""NOOP: the smallest function, to measure the runtime's own start."""


def handler(event, context):
    return {"ok": True}
