"""Run the sandbox: ``python -m tap_rest.sandbox --port 8080``."""

from __future__ import annotations

from tap_rest.sandbox.server import main

main()
