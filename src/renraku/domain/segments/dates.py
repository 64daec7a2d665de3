"""Dates in date dimensions (BEFORE, AFTER, ON, BETWEEN) are compared as calendar dates.

A definition's value is any ISO-8601 date or timestamp; its calendar date as written is used
(``2026-11-26T23:30:00+09:00`` is 2026-11-26). An endpoint's attribute value counts as a date when
it starts with ``YYYY-MM-DD`` followed by nothing, ``T`` or a space; other values never match a date
dimension. The SQL compiler applies the same rule (``ENDPOINT_DATE_*``).
"""

from __future__ import annotations

import re
from datetime import datetime

# An endpoint value's date: its first ten characters, when they look like YYYY-MM-DD.
_ENDPOINT_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ]|\Z)")
ENDPOINT_DATE_POSIX = "^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ]|$)"
ENDPOINT_DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"


def definition_date(value: str) -> str | None:
    """``YYYY-MM-DD`` of an ISO-8601 date or timestamp as written, or None if it is not one."""
    text = value.strip()
    if not text or not text[:4].isdigit() or len(text) < 10 or text[4] != "-":
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment.date().isoformat()


def endpoint_date(value: str) -> str | None:
    """The calendar date an endpoint attribute value starts with, or None."""
    if _ENDPOINT_DATE.match(value):
        return value[:10]
    return None
