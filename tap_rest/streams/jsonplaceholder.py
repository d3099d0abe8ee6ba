"""jsonplaceholder streams: posts and their comments, albums and their photos, todos, users."""

from __future__ import annotations

from singer_sdk import typing as th

from tap_rest.client import TapRestStream
from tap_rest.entities import ByIdStream
from tap_rest.pagination import GuardedPaginator, LinkHeaderPaginator, PageRequest


class _JsonPlaceholderStream(TapRestStream):
    """A jsonplaceholder collection, paged by ``_page``/``_limit`` along ``Link: rel="next"``."""

    url_setting = "jsonplaceholder_url"
    primary_keys = ("id",)
    total_header = "X-Total-Count"

    def list_paginator(self) -> GuardedPaginator:
        """Page as json-server does; it sends no Link header when one page holds everything."""
        first = PageRequest.with_params({"_page": 1, "_limit": self.page_size})
        return LinkHeaderPaginator("next", first, stream_name=self.name)


class Posts(ByIdStream, _JsonPlaceholderStream):
    """Posts; ``post_ids`` fetches chosen posts from ``/posts/{id}``."""

    name = "posts"
    path = "/posts"
    ids_setting = "post_ids"
    entity_path = "/posts/{id}"
    child_context_key = "postId"
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("userId", th.IntegerType),
        th.Property("title", th.StringType),
        th.Property("body", th.StringType),
    ).to_dict()


class _PostChild(_JsonPlaceholderStream):
    """A collection read per post from ``/posts/{postId}/<name>``."""

    parent_stream_type = Posts


class PostComments(_PostChild):
    """Comments of each post."""

    name = "post_comments"
    path = "/posts/{postId}/comments"
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("postId", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("email", th.StringType),
        th.Property("body", th.StringType),
    ).to_dict()


class Albums(_JsonPlaceholderStream):
    """Albums."""

    name = "albums"
    path = "/albums"
    child_context_key = "albumId"
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("userId", th.IntegerType),
        th.Property("title", th.StringType),
    ).to_dict()


class _AlbumChild(_JsonPlaceholderStream):
    """A collection read per album from ``/albums/{albumId}/<name>``."""

    parent_stream_type = Albums


class AlbumPhotos(_AlbumChild):
    """Photos of each album."""

    name = "album_photos"
    path = "/albums/{albumId}/photos"
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("albumId", th.IntegerType, required=True),
        th.Property("title", th.StringType),
        th.Property("url", th.StringType),
        th.Property("thumbnailUrl", th.StringType),
    ).to_dict()


class Todos(_JsonPlaceholderStream):
    """Todos."""

    name = "todos"
    path = "/todos"
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("userId", th.IntegerType),
        th.Property("title", th.StringType),
        th.Property("completed", th.BooleanType),
    ).to_dict()


class Users(_JsonPlaceholderStream):
    """Users, with their nested address, geo and company."""

    name = "users"
    path = "/users"
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("username", th.StringType),
        th.Property("email", th.StringType),
        th.Property(
            "address",
            th.ObjectType(
                th.Property("street", th.StringType),
                th.Property("suite", th.StringType),
                th.Property("city", th.StringType),
                th.Property("zipcode", th.StringType),
                # jsonplaceholder sends coordinates as strings ("-37.3159").
                th.Property(
                    "geo",
                    th.ObjectType(
                        th.Property("lat", th.StringType), th.Property("lng", th.StringType)
                    ),
                ),
            ),
        ),
        th.Property("phone", th.StringType),
        th.Property("website", th.StringType),
        th.Property(
            "company",
            th.ObjectType(
                th.Property("name", th.StringType),
                th.Property("catchPhrase", th.StringType),
                th.Property("bs", th.StringType),
            ),
        ),
    ).to_dict()
