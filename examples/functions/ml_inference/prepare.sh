#!/bin/sh
# Builds model.joblib (deterministic) with the given interpreter; idempotent.
set -e
here=$(cd "$(dirname "$0")" && pwd)
python=${1:-python3}
if [ ! -f "$here/model.joblib" ] || [ "$here/build_model.py" -nt "$here/model.joblib" ]; then
    "$python" "$here/build_model.py"
fi
