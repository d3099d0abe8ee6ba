"""Orchestration: tap-rest's shards and windows run as separate Meltano pipelines, by Dagster."""
