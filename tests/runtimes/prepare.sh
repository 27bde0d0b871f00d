#!/usr/bin/env bash
# Creates (idempotently) the venv the runtime harnesses run in.
#   bash tests/runtimes/prepare.sh [VENV_DIR]
# VENV_DIR defaults to /var/cache/coldspy/venv-runtimes-3.12.
# PYTHON overrides the interpreter (default: pyenv-3.12 of set-up's env.json, else python3.12).
# Reaches PyPI only; wheels only. A second run with the same requirements.txt
# does nothing (a stamp file in the venv holds the requirements' sha256).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-/var/cache/coldspy/venv-runtimes-3.12}"
req="$here/requirements.txt"
py="${PYTHON:-}"
if [ -z "$py" ]; then
    # pyenv's 3.12 where set-up's env.json says it is, else python3.12.
    py="$(python3 -c 'import json, sys
try:
    env = json.load(open(sys.argv[1]))
except OSError:
    sys.exit(0)
print(next((i["python"] for i in env["interpreters"] if i["name"] == "pyenv-3.12"), ""))' "${COLDSPY_CACHE:-/var/cache/coldspy}/env.json")"
    [ -n "$py" ] || py="$(command -v python3.12)"
fi
want="$(sha256sum "$req" | cut -d' ' -f1) $("$py" -c 'import sys; print(sys.version.split()[0])')"
stamp="$venv/.coldspy-runtimes-stamp"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "prepare.sh: $venv is up to date"
    exit 0
fi
mkdir -p "$(dirname "$venv")"
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --only-binary=:all: -r "$req"
"$venv/bin/python" -c 'import awslambdaric, functions_framework, flask, waitress, boto3, markdown, tqdm'
echo "$want" > "$stamp"
echo "prepare.sh: $venv ready"
