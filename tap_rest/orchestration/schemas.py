"""SCHEMA messages alone, for the selected streams, so that a loader creates its tables once.

n shards that start at once start n loaders at once, and each loader creates the tables its
SCHEMA messages name: two ``CREATE TABLE`` of one table at the same moment fail in PostgreSQL.
Piping these messages into the loader first, once, leaves every table in place before the shards
start. They are the very messages a run sends (the tap's own streams, catalog and stream maps
make them), without a request to the API::

    python -m tap_rest.orchestration.schemas --config tap.json --catalog catalog.json |
        target-postgres --config target.json
"""

from __future__ import annotations

import argparse
import json
import typing as t
from pathlib import Path

from tap_rest.tap import TapRest
from tap_rest.writer import GuardedWriter


def write_schemas(tap: TapRest) -> list[str]:
    """Write the SCHEMA message of every selected stream; return the streams' names."""
    written = []
    for stream in tap.streams.values():
        if stream.selected:
            # The message the stream sends when its sync starts (stream maps applied).
            stream._write_schema_message()
            written.append(stream.name)
    t.cast("GuardedWriter", tap.message_writer).flush()
    return written


def main(argv: list[str] | None = None) -> None:
    """Write the SCHEMA messages of a config's selected streams to stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m tap_rest.orchestration.schemas", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--config", type=Path, required=True, help="the tap's config file")
    parser.add_argument("--catalog", type=Path, required=True, help="the catalog of the run")
    args = parser.parse_args(argv)
    tap = TapRest(
        config=json.loads(args.config.read_text()),
        catalog=json.loads(args.catalog.read_text()),
        parse_env_config=False,
        validate_config=True,
    )
    write_schemas(tap)


if __name__ == "__main__":
    main()
