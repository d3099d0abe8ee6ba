"""dlt rest_api into PostgreSQL, the anchor of benchmarks/postgres.py: every photo, merged on id.

    benchmarks/.venv-dlt/bin/python benchmarks/dlt_postgres.py ORIGIN SCHEMA

Run by the python of benchmarks/.venv-dlt (``bash benchmarks/dlt.sh`` makes it), never by the
tap's. ``photos`` paged as tap-rest pages it (``_page``, ``_limit=100``, along the ``Link``
header json-server sends), ``write_disposition: merge`` on ``id``, the whole pipeline (extract,
normalize, load) into the dataset SCHEMA of PostgreSQL at 127.0.0.1:5432 (user postgres, db
test), its pipeline folder a temporary one. Prints the rows loaded as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile


def main() -> int:
    """Load every photo of the sandbox at argv[1] into the dataset argv[2]."""
    origin, dataset = sys.argv[1], sys.argv[2]
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    import dlt  # noqa: PLC0415 - dlt is only in benchmarks/.venv-dlt
    from dlt.sources.rest_api import rest_api_source  # noqa: PLC0415

    source = rest_api_source(
        {
            "client": {"base_url": origin, "paginator": {"type": "header_link"}},
            "resources": [
                {
                    "name": "photos",
                    "primary_key": "id",
                    "write_disposition": "merge",
                    "endpoint": {"path": "photos", "params": {"_page": 1, "_limit": 100}},
                }
            ],
        }
    )
    credentials = "postgresql://postgres:postgres@127.0.0.1:5432/test"
    with tempfile.TemporaryDirectory() as scratch:
        pipeline = dlt.pipeline(
            pipeline_name=f"photos_{dataset}",
            pipelines_dir=scratch,
            destination=dlt.destinations.postgres(credentials),
            dataset_name=dataset,
            progress=None,
        )
        info = pipeline.run(source)
        info.raise_on_failed_jobs()
    print(json.dumps({"dataset": dataset}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
