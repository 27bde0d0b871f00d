import time
time.sleep(0.2)
from . import rel  # noqa: E402,F401  a relative import
import slowpkg.sub  # noqa: E402,F401
