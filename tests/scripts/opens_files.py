"""Opens its own helper module (by importing it) and a data file."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "imports"))
import filehelper  # noqa: E402

with open(os.path.join(here, "imports", "data.txt")) as f:
    assert f.read().strip() == "coldspy test data"
print(filehelper.NAME)
