"""Known stack: 40 modules whose bodies each spin for ~10 ms, imported one
after the other. A module's code object lives only while its body runs,
so a sample drained after a body ended finds it freed; coldspy still names
that frame `<module>` of the body's file (written to a fresh directory)."""
import importlib
import os
import sys
import tempfile

BODY = """import time
_t = time.perf_counter()
while time.perf_counter() - _t < 0.010:
    pass
"""

root = tempfile.mkdtemp(prefix="coldspy-short-bodies-")
for i in range(40):
    with open(os.path.join(root, "short_body_%02d.py" % i), "w") as f:
        f.write(BODY)
sys.path.insert(0, root)
for i in range(40):
    importlib.import_module("short_body_%02d" % i)

import shutil  # noqa: E402 (after the measured imports)

shutil.rmtree(root)
