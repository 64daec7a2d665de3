"""Import sources: a local file or folder, a ``file://`` URL, or ``s3://bucket/prefix``.

:func:`resolve_pieces` turns what the user typed into the list of pieces (files) to import, in a
stable order; each :class:`Piece` opens as a binary stream that counts the bytes read, so progress
can be shown against the piece's size. Every way a source can be unreadable becomes ImportRejected.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from renraku.errors import ImportRejected, Problem

FORMAT_BY_SUFFIX = {
    ".csv": "CSV",
    ".txt": "CSV",
    ".tsv": "CSV",
    ".json": "JSON",
    ".jsonl": "JSON",
    ".ndjson": "JSON",
}


@dataclass(frozen=True)
class Piece:
    """One file of a source: its display name, size in bytes (if known) and a way to open it."""

    name: str
    size: int | None
    version: str  # changes when the content changes (mtime+size, or the S3 ETag)
    opener: Callable[[], io.RawIOBase]

    @property
    def suffix_format(self) -> str | None:
        """CSV or JSON, judged by the file name's extension (None when it does not say)."""
        return FORMAT_BY_SUFFIX.get(Path(self.name.split("?")[0]).suffix.lower())

    def open(self) -> io.RawIOBase:
        return self.opener()


class CountingReader(io.RawIOBase):
    """A raw stream over another readable, counting the bytes handed out."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        data = self._inner.read(len(view))
        n = len(data)
        view[:n] = data
        self.bytes_read += n
        return n

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


def _reject(source: str, message: str) -> ImportRejected:
    return ImportRejected([Problem(source, message)], subject="import source")


def _open_local(path: Path) -> io.RawIOBase:
    return CountingReader(path.open("rb", buffering=0))


def _open_s3(client: Any, bucket: str, key: str) -> io.RawIOBase:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
    except (BotoCoreError, ClientError) as exc:
        raise OSError(f"S3 GetObject s3://{bucket}/{key} failed: {exc}") from exc
    return CountingReader(body)


def wanted(name: str, fmt: str | None) -> bool:
    """Whether a file in a folder or under a prefix is part of the import (Pinpoint's rule: only
    files of the requested format; without one, any list renraku reads)."""
    found = FORMAT_BY_SUFFIX.get(Path(name).suffix.lower())
    return found is not None and (fmt is None or found == fmt)


def _none_found(fmt: str | None) -> str:
    kinds = {"CSV": ".csv, .tsv or .txt", "JSON": ".json, .jsonl or .ndjson"}
    return kinds.get(fmt or "", ".csv, .tsv, .txt, .json, .jsonl or .ndjson")


def _local_pieces(source: str, path: Path, fmt: str | None) -> list[Piece]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and wanted(p.name, fmt))
        if not files:
            raise _reject(
                source, f"the folder (and its subfolders) holds no {_none_found(fmt)} file"
            )
    elif path.is_file():
        files = [path]
    elif path.exists():
        raise _reject(source, "is not a regular file")
    else:
        raise _reject(source, "no such file")
    pieces = []
    for file in files:
        try:
            stat = file.stat()
            with file.open("rb"):
                pass
        except OSError as exc:
            raise _reject(str(file), f"cannot be read: {exc.strerror}") from exc
        pieces.append(
            Piece(
                name=str(file),
                size=stat.st_size,
                version=f"{stat.st_mtime_ns}:{stat.st_size}",
                opener=partial(_open_local, file),
            )
        )
    return pieces


def _s3_client() -> Any:
    """A boto3 S3 client; the endpoint comes from boto3's own settings (e.g. AWS_ENDPOINT_URL_S3)."""
    import boto3

    return boto3.client("s3")


def _s3_pieces(source: str, bucket: str, prefix: str, fmt: str | None) -> list[Piece]:
    from botocore.exceptions import BotoCoreError, ClientError

    client = _s3_client()
    pieces: list[Piece] = []
    try:
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = str(obj["Key"])
                if key.endswith("/"):
                    continue
                if key != prefix and not wanted(key, fmt):
                    continue  # an object named exactly is imported whatever its extension
                pieces.append(
                    Piece(
                        name=f"s3://{bucket}/{key}",
                        size=int(obj.get("Size", 0)),
                        version=str(obj.get("ETag", "")),
                        opener=partial(_open_s3, client, bucket, key),
                    )
                )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise _reject(source, f"S3 refused: {error.get('Code')}: {error.get('Message')}") from exc
    except BotoCoreError as exc:
        raise _reject(source, f"S3 cannot be reached: {exc}") from exc
    if not pieces:
        raise _reject(source, f"no {_none_found(fmt)} object under this prefix")
    pieces.sort(key=lambda p: p.name)
    return pieces


def resolve_pieces(source: str, fmt: str | None = None) -> list[Piece]:
    """The pieces named by ``source``: a path (file or folder), ``file://`` URL or ``s3://`` URL."""
    if source.startswith("s3://"):
        parsed = urlparse(source)
        if not parsed.netloc:
            raise _reject(source, "an S3 URL needs a bucket: s3://bucket/prefix")
        return _s3_pieces(source, parsed.netloc, parsed.path.lstrip("/"), fmt)
    if source.startswith("file://"):
        parsed = urlparse(source)
        if parsed.netloc not in ("", "localhost"):
            raise _reject(source, "file:// URLs must name a local file (file:///path)")
        return _local_pieces(source, Path(unquote(parsed.path)), fmt)
    if "://" in source:
        scheme = source.split("://", 1)[0]
        raise _reject(source, f"unsupported scheme {scheme!r}; use a path, file:// or s3://")
    return _local_pieces(source, Path(source), fmt)
