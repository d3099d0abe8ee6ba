"""Dagster definitions: shards as one fanned-out job, windows as partitioned assets.

Each piece of the work is a ``meltano run`` with its own STATE.

- ``tap_rest_sharded``: ``prepare_loader`` (plugins installed, system database ready, every
  table created once), then one ``run_shard`` op per shard (n from the run config's
  ``ops.plan_shards.config.shards``, else ``TAP_REST_SHARDS``, else 4), each
  ``meltano run --state-id-suffix shard-<i>-of-<n> tap-rest <loader>`` with ``TAP_REST_SHARD``
  set; a failing shard fails its op with its last error line, the others go on.
- ``tap_rest_windows``: an asset partitioned by time (monthly from 2025-01-01 by default;
  ``TAP_REST_WINDOWS_START``, and ``TAP_REST_WINDOWS_CADENCE`` daily, weekly or monthly); each
  partition is ``meltano run --state-id-suffix window-<start>-<end> tap-rest <loader>`` with
  ``TAP_REST_WINDOW`` set to the partition's window, so a backfill of five years is a Dagster
  backfill of its partitions. It is downstream of ``tap_rest_tables`` (the loader's tables,
  created once): materialize that before a backfill whose partitions run at once.

The executor decides where ops run: ``multiprocess_executor`` here (one process per op, on one
machine); ``k8s_job_executor`` or ``celery_executor`` put each op on a machine of a cluster with
the same code (see the README). Meltano's STATE lives in its state backend, so any machine picks
up any piece: with several machines, point ``MELTANO_DATABASE_URI`` (or
``MELTANO_STATE_BACKEND_URI``) of each at one PostgreSQL (meltano.yml's ``cluster`` environment
says how). Load them with::

    dagster dev -m tap_rest.orchestration.dagster
    dagster job execute -m tap_rest.orchestration.dagster -j tap_rest_sharded
"""

# No ``from __future__ import annotations`` here, unlike every other module: Dagster reads the
# annotations of ops, assets, configs and resources at definition time, unevaluated, and refuses
# the strings that postponed annotations make of them.
import os
import typing as t

import dagster as dg
from dagster import AssetExecutionContext, OpExecutionContext
from pydantic import Field

from tap_rest.orchestration.meltano import (
    MeltanoProject,
    Outcome,
    Piece,
    PieceError,
    shard_piece,
    window_piece,
)

DEFAULT_SHARDS = 4
DEFAULT_LOADER = "target-postgres"
_PARTITIONS: dict[str, t.Callable[[str], dg.TimeWindowPartitionsDefinition]] = {
    "daily": lambda start: dg.DailyPartitionsDefinition(start_date=start),
    "weekly": lambda start: dg.WeeklyPartitionsDefinition(start_date=start),
    "monthly": lambda start: dg.MonthlyPartitionsDefinition(start_date=start),
}


class MeltanoPipeline(dg.ConfigurableResource):
    """The Meltano project whose ``meltano run <extractor> <loader>`` each piece is."""

    project_dir: str = Field(
        default="",
        description="The Meltano project ('': MELTANO_PROJECT_ROOT, else the current folder).",
    )
    meltano: str = Field(
        default="",
        description="The meltano executable ('': MELTANO_BIN, else meltano on PATH, else "
        "<project>/.venv-meltano/bin/meltano).",
    )
    environment: str = Field(
        default="",
        description="The Meltano environment ('': MELTANO_ENVIRONMENT, else the default).",
    )
    extractor: str = Field(default="tap-rest", description="The extractor.")
    loader: str = Field(
        default="", description="The loader ('': TAP_REST_LOADER, else target-postgres)."
    )

    def project(self) -> MeltanoProject:
        """Return the Meltano project, located on the machine the op runs on."""
        return MeltanoProject.locate(
            self.project_dir or None, self.meltano or None, self.environment or None
        )

    @property
    def loader_name(self) -> str:
        """Return the loader's name."""
        return self.loader or os.environ.get("TAP_REST_LOADER") or DEFAULT_LOADER

    def run(self, context: t.Any, piece: Piece) -> Outcome:
        """Run one piece; fail the op or asset with the piece's last error line."""
        context.log.info(f"{piece.name}: meltano run {self.extractor} {self.loader_name}")
        try:
            return self.project().run_piece(
                piece, self.extractor, self.loader_name, log=context.log.info
            )
        except PieceError as exc:
            tail = "".join(exc.outcome.tail[-60:])
            raise dg.Failure(
                description=str(exc),
                metadata={
                    "last_error": exc.outcome.last_error,
                    "output": dg.MetadataValue.text(tail),
                },
                allow_retries=True,
            ) from None


class ShardsConfig(dg.Config):
    """How many shards split the work."""

    shards: int = Field(
        default=0, description=f"Shards (0: TAP_REST_SHARDS, else {DEFAULT_SHARDS})."
    )


@dg.op(description="Install the plugins, ready Meltano's system database, create every table.")
def prepare_loader(
    context: OpExecutionContext,
    pipeline: MeltanoPipeline,
) -> None:
    """Have the loader create each table once, before n loaders start at once."""
    streams = pipeline.project().prepare(pipeline.extractor, pipeline.loader_name)
    context.log.info(f"{pipeline.loader_name} has the tables of: {', '.join(streams)}")


@dg.op(ins={"ready": dg.In(dg.Nothing)}, out=dg.DynamicOut(tuple))
def plan_shards(
    context: OpExecutionContext,
    config: ShardsConfig,
) -> t.Iterator[dg.DynamicOutput[tuple[int, int]]]:
    """Fan out one shard each, 0 to n - 1."""
    count = config.shards or int(os.environ.get("TAP_REST_SHARDS") or DEFAULT_SHARDS)
    if count < 1:
        raise dg.Failure(description=f"shards: {count} is not a number of shards (1 or more)")
    context.log.info(f"{count} shards")
    for index in range(count):
        yield dg.DynamicOutput((index, count), mapping_key=f"shard_{index}_of_{count}")


@dg.op
def run_shard(
    context: OpExecutionContext,
    pipeline: MeltanoPipeline,
    which: tuple[int, int],
) -> list[str]:
    """Run one shard; its STATE is its own state id's (suffix shard-<i>-of-<n>)."""
    outcome = pipeline.run(context, shard_piece(*which))
    return outcome.summary


@dg.op
def report(
    context: OpExecutionContext,
    summaries: list[list[str]],
) -> None:
    """Log what every shard did."""
    context.log.info(f"{len(summaries)} shards done")


@dg.graph(description="tap-rest split into n shards, each its own meltano run and STATE.")
def tap_rest_shards() -> None:
    """Prepare the loader, fan out one op per shard, then report."""
    report(plan_shards(prepare_loader()).map(run_shard).collect())


def sharded_job(
    name: str = "tap_rest_sharded",
    executor_def: dg.ExecutorDefinition = dg.multiprocess_executor,
    config: t.Mapping[str, t.Any] | None = None,
) -> dg.JobDefinition:
    """Return the sharded job on an executor (``k8s_job_executor``, ``celery_executor``...).

    On the multiprocess executor all shards run at once by default: they mostly wait for the
    API (``execution.config.max_concurrent`` in the run config says otherwise).
    """
    if config is None and executor_def is dg.multiprocess_executor:
        config = {"execution": {"config": {"max_concurrent": 32}}}
    return tap_rest_shards.to_job(name=name, executor_def=executor_def, config=config)


tap_rest_sharded = sharded_job()


def window_partitions(
    start: str | None = None, cadence: str | None = None
) -> dg.TimeWindowPartitionsDefinition:
    """Return time-window partitions (``TAP_REST_WINDOWS_START``, ``_CADENCE`` by default)."""
    start = start or os.environ.get("TAP_REST_WINDOWS_START") or "2025-01-01"
    cadence = cadence or os.environ.get("TAP_REST_WINDOWS_CADENCE") or "monthly"
    if cadence not in _PARTITIONS:
        msg = f"TAP_REST_WINDOWS_CADENCE: {cadence!r} is not one of {', '.join(_PARTITIONS)}"
        raise ValueError(msg)
    return _PARTITIONS[cadence](start)


@dg.asset(
    description="The loader's tables, created once from the streams' SCHEMA messages: "
    "materialize before a backfill whose partitions run at once.",
    kinds={"meltano"},
)
def tap_rest_tables(context: AssetExecutionContext, pipeline: MeltanoPipeline) -> None:
    """Have the loader create each table once, before n partitions' loaders start at once."""
    streams = pipeline.project().prepare(pipeline.extractor, pipeline.loader_name)
    context.log.info(f"{pipeline.loader_name} has the tables of: {', '.join(streams)}")


def window_asset(
    name: str = "tap_rest_windows",
    partitions_def: dg.TimeWindowPartitionsDefinition | None = None,
) -> dg.AssetsDefinition:
    """Return an asset whose partitions are windows, each one ``meltano run`` of its own."""

    @dg.asset(
        name=name,
        partitions_def=partitions_def or window_partitions(),
        deps=[tap_rest_tables],
        description="The streams with window_end_param, one time window per partition.",
        kinds={"meltano"},
    )
    def windows(context: AssetExecutionContext, pipeline: MeltanoPipeline) -> dg.MaterializeResult:
        bounds = context.partition_time_window
        piece = window_piece(bounds.start.isoformat(), bounds.end.isoformat())
        outcome = pipeline.run(context, piece)
        return dg.MaterializeResult(
            metadata={
                "window": piece.name,
                "state_id_suffix": piece.state_suffix,
                "summary": dg.MetadataValue.text("\n".join(outcome.summary)),
            }
        )

    return windows


defs = dg.Definitions(
    jobs=[tap_rest_sharded],
    assets=[tap_rest_tables, window_asset()],
    resources={"pipeline": MeltanoPipeline()},
)
