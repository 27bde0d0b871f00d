#!/bin/sh
# Prepares the function corpus: a shared venv with every function's
# requirements (wheels only, from PyPI), then each function's generated files
# (ml_inference/model.joblib, data_at_import/vendor_pkg/data/*.json).
# Idempotent: an existing venv is reused, pip skips what is installed, the
# generators run only when their output is missing or older than the script.
#
#   examples/functions/prepare.sh [VENV] [PYTHON]
#   defaults: /work/venvs/functions-3.12  python3.12 (pyenv's 3.12.1 if present)
set -e
here=$(cd "$(dirname "$0")" && pwd)
venv=${1:-/work/venvs/functions-3.12}
python=${2:-}
if [ -z "$python" ]; then
    if [ -x /root/.pyenv/versions/3.12.1/bin/python3.12 ]; then
        python=/root/.pyenv/versions/3.12.1/bin/python3.12
    else
        python=python3.12
    fi
fi
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
constraints=""
case "$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" in
    3.12) constraints="-c $here/constraints-3.12.txt" ;;
esac
reqs=""
for r in "$here"/*/requirements.txt; do
    reqs="$reqs -r $r"
done
# shellcheck disable=SC2086
"$venv/bin/python" -m pip install --disable-pip-version-check -q --only-binary :all: $constraints $reqs
for p in "$here"/*/prepare.sh; do
    sh "$p" "$venv/bin/python"
done
echo "functions ready: $venv/bin/python"
