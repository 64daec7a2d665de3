"""Which import sources an HTTP caller may name: any ``s3://`` URL, ``file://`` only under
``[server] import_file_roots`` (over HTTP a file URL would otherwise read any file the server can)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from renraku.errors import InvalidInput, Problem
from renraku.settings import Settings


def allowed_source(settings: Settings, url: str, *, field: str) -> str:
    """``url`` if this server may read it; InvalidInput naming ``field`` otherwise."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        return url
    if parts.scheme != "file":
        raise InvalidInput([Problem(field, f"{url!r}: use an s3:// or file:// URL")])
    roots = [Path(r).resolve() for r in settings.server.import_file_roots]
    path = Path(unquote(parts.path)).resolve()
    if not any(path == root or root in path.parents for root in roots):
        raise InvalidInput(
            [
                Problem(
                    field,
                    f"{url!r} is outside the directories this server may read "
                    "(server.import_file_roots)",
                )
            ]
        )
    return url
