#!/usr/bin/env bash
# Install Dagster's web UI (`dagster dev`) in its own virtual environment (.venv-dagster), with
# tap-rest and its dagster extra. It cannot share .venv: dagster-webserver needs gql, which
# requires the old `backoff` package, and that package overwrites the `backoff` module of
# singer-sdk's python-backoff. Here python-backoff is reinstalled last, so its module stays:
# it is the same API (on_exception, expo) that gql calls, and more.
#   bash scripts/dagster.sh && .venv-dagster/bin/dagster dev -m tap_rest.orchestration.dagster
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [ ! -x .venv-dagster/bin/dagster-webserver ]; then
  [ -x .venv-dagster/bin/python ] || "$PYTHON" -m venv .venv-dagster
  .venv-dagster/bin/python -m pip install -q --disable-pip-version-check \
    -e ".[dagster]" "dagster-webserver>=1.13,<1.14"
fi
backoff=$(.venv-dagster/bin/python -c "from importlib.metadata import version; print(version('python-backoff'))")
.venv-dagster/bin/python -m pip install -q --disable-pip-version-check --force-reinstall --no-deps \
  "python-backoff==$backoff"
.venv-dagster/bin/python -c "import backoff; assert hasattr(backoff, 'retry_context')"
