"""A quick yes/no check of input parameters against a botocore shape, compiled once per shape.

botocore's :class:`~botocore.validate.ParamValidator` walks the shape generically and builds an
error report; on the hot path most requests are valid and the report is never read. The check
compiled here answers "certainly valid" only where ParamValidator would report nothing (the same
type, required, unknown-member and minimum rules); for anything else, including the shapes it
does not model (documents, unions, JSON-value headers), it answers "not certain", and the caller
runs ParamValidator for the real report.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from typing import Any, cast

from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.utils import parse_to_aware_datetime

Check = Callable[[Any], bool]

_SCALARS: dict[str, tuple[type, ...]] = {
    "float": (float, decimal.Decimal, int),
    "double": (float, decimal.Decimal, int),
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "string": (str,),
}


def _never(_: Any) -> bool:
    return False


def _minimum(shape: Shape) -> float | None:
    if "min" in shape.metadata:
        return float(shape.metadata["min"])
    if shape.serialization.get("hostLabel"):
        return 1.0
    return None


def _timestamp(value: Any) -> bool:
    try:
        parse_to_aware_datetime(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


class ShapeChecks:
    """Compiles and keeps one check per shape (recursive shapes resolve through the cache)."""

    def __init__(self) -> None:
        self._checks: dict[tuple[str, str, bool], Check] = {}

    def check(self, shape: Shape) -> Check:
        serial = shape.serialization
        if serial.get("jsonvalue") and serial.get("location") == "header":
            return _never
        key = (shape.name, shape.type_name, bool(serial.get("hostLabel")))
        found = self._checks.get(key)
        if found is None:
            # A forward reference first, so a shape that contains itself finds its own check.
            slot: list[Check] = []
            self._checks[key] = lambda value: slot[0](value)
            slot.append(self._compile(shape))
            found = self._checks[key] = slot[0]
        return found

    def _compile(self, shape: Shape) -> Check:
        kind = shape.type_name
        if isinstance(shape, StructureShape):
            if shape.is_document_type or shape.is_tagged_union:
                return _never
            return self._structure(shape)
        if isinstance(shape, ListShape):
            return self._list(shape)
        if isinstance(shape, MapShape):
            return self._map(shape)
        if kind == "blob":
            return lambda v: isinstance(v, bytes | bytearray | str) or hasattr(v, "read")
        if kind == "timestamp":
            return _timestamp
        if kind not in _SCALARS:
            return _never
        types = _SCALARS[kind]
        minimum = _minimum(shape)
        if minimum is None:
            return lambda v: isinstance(v, types)
        low: float = minimum
        if kind == "string":
            return lambda v: isinstance(v, str) and len(v) >= low

        def at_least(value: Any) -> bool:
            return isinstance(value, types) and bool(low <= cast(float, value))

        return at_least

    def _structure(self, shape: StructureShape) -> Check:
        required = tuple(shape.metadata.get("required", ()))
        members = {name: self.check(member) for name, member in shape.members.items()}

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return False
            for name in required:
                if name not in value:
                    return False
            for name, item in value.items():
                member = members.get(name)
                if member is None or not member(item):
                    return False
            return True

        return check

    def _list(self, shape: ListShape) -> Check:
        item_check = self.check(shape.member)
        low = _minimum(shape)

        def check(value: Any) -> bool:
            if not isinstance(value, list | tuple):
                return False
            if low is not None and len(value) < low:
                return False
            return all(item_check(item) for item in value)

        return check

    def _map(self, shape: MapShape) -> Check:
        key_check = self.check(shape.key)
        value_check = self.check(shape.value)

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return False
            return all(key_check(k) and value_check(v) for k, v in value.items())

        return check
