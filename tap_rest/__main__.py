"""Run the tap: ``python -m tap_rest --config config.json``."""

from __future__ import annotations

from tap_rest.tap import TapRest

TapRest.cli()
