"""tap-rest with one extra stream, ``photos`` (GET /photos, all of them), for the bulk benchmark."""

from __future__ import annotations

from singer_sdk import Stream

from tap_rest.streams.jsonplaceholder import AlbumPhotos, _JsonPlaceholderStream
from tap_rest.tap import TapRest


class Photos(_JsonPlaceholderStream):
    """Every photo, paged like any jsonplaceholder list."""

    name = "photos"
    path = "/photos"
    schema = AlbumPhotos.schema


class PhotosTap(TapRest):
    """tap-rest reading only /photos."""

    def discover_streams(self) -> list[Stream]:
        """Return the photos stream."""
        return [Photos(tap=self, run=self.run)]


if __name__ == "__main__":
    PhotosTap.cli()
