"""The token store: a file that keeps a rotated OAuth refresh token from one run to the next.

The file is created owner-only (0600) and replaced atomically (a temporary file in the same
folder, flushed to disk, then renamed over the old one), so that a crash leaves either the old
token or the new one, never half of one. It records which configured ``refresh_token`` it
descends from: when the configured one changes (the user authorised again), the configured one
wins.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from pathlib import Path

from tap_rest.errors import AuthError


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """A refresh token kept in a file, descended from a configured one."""

    def __init__(self, path: str | os.PathLike[str], configured: str) -> None:
        self.path = Path(path).expanduser()
        self.configured = configured

    def read(self) -> str | None:
        """Return the kept refresh token, or None when there is none for the configured one."""
        try:
            kept = json.loads(self.path.read_text())
            token, origin = kept["refresh_token"], kept["configured"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            msg = (
                f"auth.token_store {self.path}: cannot read the kept refresh token "
                f"({type(exc).__name__}); fix or delete the file, and re-authorise if "
                "auth.refresh_token was already rotated"
            )
            raise AuthError(msg) from exc
        if origin != _fingerprint(self.configured):
            return None  # auth.refresh_token changed since: a new authorisation wins
        return str(token)

    def check_writable(self) -> None:
        """Make the store's folder if needed; fail now, before a token is spent, if read-only."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            msg = f"auth.token_store {self.path}: cannot create its folder: {exc.strerror}"
            raise AuthError(msg) from exc
        if not os.access(folder, os.W_OK | os.X_OK):
            msg = f"auth.token_store {self.path}: its folder is not writable"
            raise AuthError(msg)

    def write(self, token: str) -> None:
        """Keep a refresh token: owner-only, flushed to disk, and swapped in whole."""
        kept = {
            "refresh_token": token,
            "configured": _fingerprint(self.configured),
            "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        folder = self.path.parent
        # mkstemp creates the file with mode 0600, so the token is never readable by others.
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(kept, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries, so that the rename survives a power cut (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
