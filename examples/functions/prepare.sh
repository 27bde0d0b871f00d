#!/bin/sh
# Prepares the function corpus: a shared venv with every function's
# requirements (wheels only, from PyPI), then each function's generated files
# (ml_inference/model.joblib, data_at_import/vendor_pkg/data/*.json).
# Idempotent: an existing venv is reused, pip skips what is installed, the
# generators run only when their output is missing or older than the script.
#
#   examples/functions/prepare.sh [VENV] [PYTHON]
#   defaults: /work/venvs/functions-3.12  pyenv-3.12 of set-up's env.json, else python3.12
set -e
here=$(cd "$(dirname "$0")" && pwd)
venv=${1:-/work/venvs/functions-3.12}
python=${2:-}
if [ -z "$python" ]; then
    # pyenv's 3.12 where `cargo xtask setup`'s env.json says it is.
    python=$(python3 -c 'import json, sys
try:
    env = json.load(open(sys.argv[1]))
except OSError:
    sys.exit(0)
print(next((i["python"] for i in env["interpreters"] if i["name"] == "pyenv-3.12"), ""))' "${COLDSPY_CACHE:-/var/cache/coldspy}/env.json")
    [ -n "$python" ] || python=python3.12
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
