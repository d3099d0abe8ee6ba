#!/usr/bin/env bash
# The tests, from a fresh clone: install tap-rest with its dev extra into .venv, Meltano and
# the plugins (scripts/meltano.sh), Dagster's web UI (scripts/dagster.sh), then lint,
# type-check and run every test (extra arguments go to pytest). The end-to-end tests need
# PostgreSQL at 127.0.0.1:5432 (.ci/run starts it).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
bash scripts/meltano.sh
bash scripts/dagster.sh

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
