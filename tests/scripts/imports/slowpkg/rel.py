import json  # noqa: F401
X = 1
