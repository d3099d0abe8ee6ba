"""dlt rest_api, the fan-out anchor: posts, then each post's comments, parallelized, extract only.

    benchmarks/.venv-dlt/bin/python benchmarks/dlt_fanout.py ORIGIN [WORKERS]

Run by the python of benchmarks/.venv-dlt (``bash benchmarks/dlt.sh`` makes it), never by the
tap's. The comments are a resource resolved from ``posts`` (``{resources.posts.id}``) with
``parallelized: True``, both paged along the ``Link`` header as json-server sends it, pages of
100. ``pipeline.extract`` only: the records are fetched and written to dlt's extract files in a
temporary pipelines folder; nothing is normalized or loaded, so no destination is involved.
Prints the records extracted per resource as JSON; exits 1 when a count is not what the sandbox
serves at ``--scale 10`` unless ``--any`` is given.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile


def main() -> int:
    """Extract posts and comments from the sandbox at argv[1]; print the counts."""
    origin = sys.argv[1]
    workers = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2].isdigit() else "5"
    # dlt reads its configuration from the environment: extract threads (its default is 5).
    os.environ["EXTRACT__WORKERS"] = workers
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    import dlt  # noqa: PLC0415 - dlt is only in benchmarks/.venv-dlt, read its config after
    from dlt.sources.rest_api import rest_api_source  # noqa: PLC0415

    paged = {"type": "header_link"}
    source = rest_api_source(
        {
            "client": {"base_url": origin, "paginator": paged},
            "resource_defaults": {"endpoint": {"params": {"_page": 1, "_limit": 100}}},
            "resources": [
                {"name": "posts", "endpoint": {"path": "posts"}},
                {
                    "name": "comments",
                    "endpoint": {"path": "posts/{resources.posts.id}/comments"},
                    "parallelized": True,
                },
            ],
        }
    )
    with tempfile.TemporaryDirectory() as scratch:
        pipeline = dlt.pipeline(
            pipeline_name="fanout", pipelines_dir=scratch, dev_mode=True, progress=None
        )
        info = pipeline.extract(source)
        counts = {
            table: n
            for metrics in info.metrics.values()
            for m in metrics
            for table, n in m["table_metrics"].items()
            for n in [n.items_count]
        }
    print(json.dumps(counts))
    expected = {"posts": 1000, "comments": 5000}
    if "--any" not in sys.argv and any(counts.get(k) != v for k, v in expected.items()):
        print(f"expected {expected}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
