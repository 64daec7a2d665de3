"""Pinpoint-style pagination: ``page-size`` and an opaque ``token`` (``NextToken`` in answers)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, TypeVar

from renraku.errors import InvalidInput, Problem

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_token(token: str | None, *, field: str = "token") -> int:
    """The offset a token stands for; a token this API did not issue is rejected by name."""
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
        kind, _, number = raw.partition(":")
        offset = int(number)
        if kind != "o" or offset < 0:
            raise ValueError(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(
            [Problem(field, f"{token!r} is not a pagination token issued by this API")]
        ) from exc
    return offset


def page_size(value: str | None, *, field: str = "page-size") -> int:
    if value is None or value == "":
        return DEFAULT_PAGE_SIZE
    try:
        size = int(value)
    except ValueError as exc:
        raise InvalidInput([Problem(field, f"{value!r} is not a whole number")]) from exc
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput([Problem(field, f"must be between 1 and {MAX_PAGE_SIZE}, got {size}")])
    return size


def paginate(items: Sequence[T], size: str | None, token: str | None) -> tuple[list[T], str | None]:
    """One page of ``items`` and the token of the next page (None on the last)."""
    offset = decode_token(token)
    count = page_size(size)
    page = list(items[offset : offset + count])
    nxt = encode_token(offset + count) if offset + count < len(items) else None
    return page, nxt


def with_next(body: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token is not None:
        body["NextToken"] = token
    return body
