#!/usr/bin/env bash
# Create (or reuse) the virtual environment with the Jasmin SMS gateway 0.11.1 from PyPI, apart from the
# project's own environment. Idempotent: a venv whose jasmind imports is kept as it is.
# Usage: bench/jasmin/setup.sh [VENV_DIR]   (default: bench/.venv-jasmin, git-ignored)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-$here/../.venv-jasmin}"
python="${PYTHON:-python3.11}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import jasmin, txamqp" 2>/dev/null \
    && [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("jasmin"))')" = "0.11.1" ]; then
  echo "$venv"
  exit 0
fi
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "jasmin==0.11.1" >&2
"$venv/bin/python" -c "import jasmin, txamqp" >&2
echo "$venv"
