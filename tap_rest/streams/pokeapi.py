"""PokeAPI streams: the ability list and each ability's detail."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

from tap_rest.client import TapRestStream
from tap_rest.entities import ByIdStream
from tap_rest.pagination import BodyNextLinkPaginator, GuardedPaginator, PageRequest

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

# The objects PokeAPI's published schemas share (data/schema/v2/*.json).
NamedAPIResource = th.ObjectType(
    th.Property("name", th.StringType, required=True),
    th.Property("url", th.StringType, required=True),
)
Effect = th.ObjectType(
    th.Property("effect", th.StringType, required=True),
    th.Property("language", NamedAPIResource, required=True),
)
VerboseEffect = th.ObjectType(
    th.Property("effect", th.StringType, required=True),
    th.Property("short_effect", th.StringType, required=True),
    th.Property("language", NamedAPIResource, required=True),
)
Name = th.ObjectType(
    th.Property("name", th.StringType, required=True),
    th.Property("language", NamedAPIResource, required=True),
)


def id_from_url(url: str) -> int:
    """Return the id at the end of a PokeAPI resource URL (``.../ability/7/`` gives 7)."""
    return int(url.rstrip("/").rsplit("/", 1)[-1])


class _PokeApiStream(TapRestStream):
    """A PokeAPI resource."""

    url_setting = "pokeapi_url"
    primary_keys = ("id",)


class Abilities(ByIdStream, _PokeApiStream):
    """The ability list, paged by ``offset``/``limit`` along the body's ``next`` link."""

    name = "abilities"
    path = "/ability/"
    records_jsonpath = "$.results[*]"
    total_path = "$.count"
    ids_setting = "ability_ids"
    entity_path = "/ability/{id}/"
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType, required=True),
        th.Property("url", th.StringType, required=True),
    ).to_dict()

    def list_paginator(self) -> GuardedPaginator:
        """Follow ``next`` from offset 0."""
        first = PageRequest.with_params({"offset": 0, "limit": self.page_size})
        return BodyNextLinkPaginator("$.next", first, stream_name=self.name)

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Take the id from the url; an ability fetched by id or name gets its canonical url."""
        if "url" not in row:
            row = {"name": row["name"], "url": f"{self.url_base}/ability/{row['id']}/"}
        return {"id": id_from_url(row["url"]), "name": row["name"], "url": row["url"]}


class AbilityDetails(_PokeApiStream):
    """Each ability's full record from ``/ability/{id}/``."""

    name = "ability_details"
    path = "/ability/{id}/"
    parent_stream_type = Abilities
    records_jsonpath = "$"
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType, required=True),
        th.Property("is_main_series", th.BooleanType, required=True),
        th.Property("generation", NamedAPIResource, required=True),
        th.Property(
            "effect_changes",
            th.ArrayType(
                th.ObjectType(
                    th.Property("effect_entries", th.ArrayType(Effect), required=True),
                    th.Property("version_group", NamedAPIResource, required=True),
                )
            ),
            required=True,
        ),
        th.Property("effect_entries", th.ArrayType(VerboseEffect), required=True),
        th.Property(
            "flavor_text_entries",
            th.ArrayType(
                th.ObjectType(
                    th.Property("flavor_text", th.StringType, required=True),
                    th.Property("language", NamedAPIResource, required=True),
                    th.Property("version_group", NamedAPIResource, required=True),
                )
            ),
            required=True,
        ),
        th.Property("names", th.ArrayType(Name), required=True),
        th.Property(
            "pokemon",
            th.ArrayType(
                th.ObjectType(
                    th.Property("is_hidden", th.BooleanType, required=True),
                    th.Property("pokemon", NamedAPIResource, required=True),
                    th.Property("slot", th.IntegerType, required=True),
                )
            ),
            required=True,
        ),
    ).to_dict()
