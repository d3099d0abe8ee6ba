"""Built-in streams, one module per API."""

from __future__ import annotations

from tap_rest.streams.jsonplaceholder import (
    AlbumPhotos,
    Albums,
    PostComments,
    Posts,
    Todos,
    Users,
)
from tap_rest.streams.pokeapi import Abilities, AbilityDetails

STREAM_TYPES = (Posts, PostComments, Albums, AlbumPhotos, Todos, Users, Abilities, AbilityDetails)

__all__ = [
    "STREAM_TYPES",
    "Abilities",
    "AbilityDetails",
    "AlbumPhotos",
    "Albums",
    "PostComments",
    "Posts",
    "Todos",
    "Users",
]
