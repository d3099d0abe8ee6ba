#!/usr/bin/env bash
# Make benchmarks/.venv-dlt, dlt in its own venv (gitignored), for the benchmarks that compare
# against dlt rest_api: benchmarks/dlt_fanout.py, and dlt into PostgreSQL. Idempotent: a venv that
# already has this dlt is left as it is; prints the venv's python.
#
#     bash benchmarks/dlt.sh            # then: benchmarks/.venv-dlt/bin/python benchmarks/dlt_fanout.py ...
set -euo pipefail

DLT_VERSION="1.31.0"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv-dlt"
PY="$VENV/bin/python"

if [ -x "$PY" ] && "$PY" -c "import importlib.metadata as m, sys, psycopg2; sys.exit(m.version('dlt') != '$DLT_VERSION')" 2>/dev/null; then
    echo "$PY"
    exit 0
fi

python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip >&2
"$VENV/bin/pip" install -q "dlt[postgres]==$DLT_VERSION" >&2
echo "$PY"
