"""Dynamic values in flows: ``$.Attributes.X``, ``$.External.X``, ``$.CustomerEndpoint.Address``.

A parameter that is exactly one reference takes the referenced value; references inside longer text
(prompts) are replaced in place. An unknown reference resolves to the empty string, as in Connect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# $.Attributes.UserId, $.External.status, $.CustomerEndpoint.Address, $.Attributes['a b']
_REF = re.compile(r"\$\.(?:[A-Za-z][A-Za-z0-9_]*)(?:\.[A-Za-z0-9_\-]+|\['[^']*'\])*")


def lookup(path: str, data: Mapping[str, Any]) -> str | None:
    """The value at JSONPath-like ``path`` in ``data`` (None if absent)."""
    if not path.startswith("$."):
        return None
    parts: list[str] = []
    for token in re.finditer(r"\.([A-Za-z0-9_\-]+)|\['([^']*)'\]", path[1:]):
        parts.append(token.group(1) if token.group(1) is not None else token.group(2))
    node: Any = data
    for part in parts:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return None
    if node is None or isinstance(node, Mapping | list):
        return None if node is None else str(node)
    return str(node)


def resolve(value: Any, data: Mapping[str, Any]) -> str:
    """``value`` with every reference replaced by what it names in ``data``."""
    text = "" if value is None else str(value)
    whole = _REF.fullmatch(text)
    if whole:
        return lookup(text, data) or ""
    return _REF.sub(lambda m: lookup(m.group(0), data) or "", text)


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and _REF.fullmatch(value) is not None
