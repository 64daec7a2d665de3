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
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar, cast

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


Out = TypeVar("Out")


class PerShape(Generic[Out]):
    """One function compiled per shape key and kept; a shape that contains itself (directly or
    not) finds its own function through a forward reference while it is being compiled."""

    def __init__(
        self,
        compile_shape: Callable[[Shape], Callable[[Any], Out]],
        key: Callable[[Shape], Hashable],
    ) -> None:
        self._compile = compile_shape
        self._key = key
        self._compiled: dict[Hashable, Callable[[Any], Out]] = {}

    def get(self, shape: Shape) -> Callable[[Any], Out]:
        key = self._key(shape)
        found = self._compiled.get(key)
        if found is None:
            slot: list[Callable[[Any], Out]] = []
            self._compiled[key] = lambda value: slot[0](value)
            slot.append(self._compile(shape))
            found = self._compiled[key] = slot[0]
        return found


class ShapeChecks:
    """Compiles and keeps one check per shape (recursive shapes resolve through the cache)."""

    def __init__(self) -> None:
        self._checks: PerShape[bool] = PerShape(
            self._compile,
            lambda s: (s.name, s.type_name, bool(s.serialization.get("hostLabel"))),
        )

    def check(self, shape: Shape) -> Check:
        serial = shape.serialization
        if serial.get("jsonvalue") and serial.get("location") == "header":
            return _never
        return self._checks.get(shape)

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
