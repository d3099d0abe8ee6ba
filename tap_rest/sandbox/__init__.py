"""The sandbox: a local replica of jsonplaceholder and PokeAPI for tests, demos and benchmarks."""

from __future__ import annotations

from tap_rest.sandbox.server import Sandbox, SandboxServer, main

__all__ = ["Sandbox", "SandboxServer", "main"]
