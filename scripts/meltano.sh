#!/usr/bin/env bash
# Install Meltano in its own virtual environment (.venv-meltano) and the project's plugins
# (.meltano/), from PyPI alone: meltano.yml carries every plugin's full definition. Meltano
# comes with its postgres extra, so that its system database (and STATE) can live in
# PostgreSQL, shared by every machine (meltano.yml's cluster environment).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
MELTANO_VERSION=${MELTANO_VERSION:-4.4.1}

if [ ! -x .venv-meltano/bin/meltano ] || ! .venv-meltano/bin/python -c "import psycopg" 2>/dev/null; then
  [ -x .venv-meltano/bin/python ] || "$PYTHON" -m venv .venv-meltano
  .venv-meltano/bin/python -m pip install -q --disable-pip-version-check \
    "meltano[postgres]==$MELTANO_VERSION"
fi
.venv-meltano/bin/meltano install >/dev/null 2>.venv-meltano/install.log \
  || { cat .venv-meltano/install.log >&2; exit 1; }
