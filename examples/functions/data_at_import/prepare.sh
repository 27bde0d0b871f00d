#!/bin/sh
# Builds vendor_pkg/data/*.json (deterministic, ~8 MB, not committed); idempotent.
set -e
here=$(cd "$(dirname "$0")" && pwd)
python=${1:-python3}
if [ ! -f "$here/vendor_pkg/data/postal_codes.json" ] || [ "$here/vendor_pkg/make_data.py" -nt "$here/vendor_pkg/data/postal_codes.json" ]; then
    "$python" "$here/vendor_pkg/make_data.py"
fi
