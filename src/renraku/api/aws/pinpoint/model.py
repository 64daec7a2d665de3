"""Pinpoint's HTTP bindings, read from botocore's own service model (pinpoint 2016-12-01).

Routing, parameter binding and input validation all follow the model that boto3 clients are
generated from, so a route cannot drift from what the client sends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape
from botocore.validate import ParamValidator

from renraku.api.aws.pinpoint.shape_check import PerShape, ShapeChecks

SERVICE = "pinpoint"
SIGNING_NAME = "mobiletargeting"


class RequestError(Exception):
    """A request that does not fit the model: ``code`` is Pinpoint's error type."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Operation:
    """One Pinpoint operation's HTTP binding."""

    name: str
    method: str
    template: tuple[str, ...]  # path segments; "{label}" marks a parameter
    status: int
    model: OperationModel

    @property
    def literal_count(self) -> int:
        return sum(1 for s in self.template if not s.startswith("{"))

    @property
    def input_shape(self) -> StructureShape | None:
        shape = self.model.input_shape
        return shape if isinstance(shape, StructureShape) else None

    @property
    def payload_member(self) -> str | None:
        shape = self.input_shape
        return None if shape is None else shape.serialization.get("payload")

    @property
    def output_payload(self) -> str | None:
        shape = self.model.output_shape
        return None if shape is None else shape.serialization.get("payload")

    def output_payload_shape(self) -> Shape | None:
        shape = self.model.output_shape
        member = self.output_payload
        if shape is None or member is None or not isinstance(shape, StructureShape):
            return None
        return shape.members[member]


def _segments(path: str) -> tuple[str, ...]:
    return tuple(path.strip("/").split("/"))


class _Node:
    """One level of the route trie: literal children, one label child, operations by method."""

    __slots__ = ("label", "literals", "operations")

    def __init__(self) -> None:
        self.literals: dict[str, _Node] = {}
        self.label: _Node | None = None
        self.operations: dict[str, Operation] = {}

    def child(self, segment: str) -> _Node:
        if segment.startswith("{"):
            if self.label is None:
                self.label = _Node()
            return self.label
        return self.literals.setdefault(segment, _Node())

    def find(
        self, parts: tuple[str, ...], depth: int, values: tuple[str, ...]
    ) -> Iterator[tuple[_Node, tuple[str, ...]]]:
        """Every node matching ``parts``, literal segments first."""
        if depth == len(parts):
            if self.operations:
                yield self, values
            return
        segment = parts[depth]
        literal = self.literals.get(segment)
        if literal is not None:
            yield from literal.find(parts, depth + 1, values)
        if self.label is not None and segment:
            yield from self.label.find(parts, depth + 1, (*values, segment))


class PinpointModel:
    """Every Pinpoint operation, matched by method and path."""

    def __init__(self, service: ServiceModel) -> None:
        self.service = service
        self.operations: dict[str, Operation] = {}
        for name in service.operation_names:
            op = service.operation_model(name)
            uri = op.http["requestUri"].split("?", 1)[0]
            self.operations[name] = Operation(
                name=name,
                method=op.http["method"],
                template=_segments(uri),
                status=int(op.http.get("responseCode", 200)),
                model=op,
            )
        # A trie over path segments; literal segments win over labels (/jobs/import over
        # /jobs/{job-id}), as in Pinpoint's own routing.
        self._root = _Node()
        self._checks = ShapeChecks()
        for bound in self.operations.values():
            node = self._root
            for segment in bound.template:
                node = node.child(segment)
            node.operations[bound.method] = bound

    def match(self, method: str, raw_path: str) -> tuple[Operation, dict[str, str]]:
        """The operation for ``method`` and the still percent-encoded ``raw_path``.

        Raises RequestError (404 when no operation has this path, 405 when the method differs).
        """
        path_matched = False
        for node, values in self._root.find(_segments(raw_path), 0, ()):
            path_matched = True
            op = node.operations.get(method)
            if op is not None:
                names = [seg[1:-1] for seg in op.template if seg.startswith("{")]
                return op, {n: unquote(v) for n, v in zip(names, values, strict=True)}
        if path_matched:
            raise RequestError(
                405, "MethodNotAllowedException", f"{method} is not allowed on {raw_path}"
            )
        raise RequestError(
            404, "NotFoundException", f"no Pinpoint operation matches {method} {raw_path}"
        )

    def bind(
        self,
        op: Operation,
        labels: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        """The operation's input parameters from path, query and body, validated by the model."""
        shape = op.input_shape
        if shape is None:
            return {}
        params: dict[str, Any] = {}
        for member_name, member in shape.members.items():
            where = member.serialization.get("location")
            wire = member.serialization.get("name", member_name)
            if where == "uri" and wire in labels:
                params[member_name] = labels[wire]
            elif where == "querystring" and wire in query:
                params[member_name] = query[wire]
        payload = op.payload_member
        if payload is not None:
            params[payload] = _json_body(body, payload)
        try:
            if self._checks.check(shape)(params):
                return params  # certainly valid: botocore's validator would report nothing
            report = ParamValidator().validate(params, shape)
        except RecursionError as exc:
            raise RequestError(
                400, "BadRequestException", f"{payload}: body is nested too deeply"
            ) from exc
        if report.has_errors():
            raise RequestError(400, "BadRequestException", report.generate_report())
        return params


def _json_body(body: bytes, member: str) -> Any:
    if not body.strip():
        raise RequestError(400, "BadRequestException", f"{member}: the request body is empty")
    try:
        value = json.loads(body)
    except UnicodeDecodeError as exc:
        raise RequestError(400, "BadRequestException", f"{member}: body is not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise RequestError(
            400,
            "BadRequestException",
            f"{member}: body is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
        ) from exc
    except RecursionError as exc:
        raise RequestError(
            400, "BadRequestException", f"{member}: body is nested too deeply"
        ) from exc
    if not isinstance(value, dict):
        raise RequestError(400, "BadRequestException", f"{member}: body must be a JSON object")
    return value


@cache
def pinpoint_model() -> PinpointModel:
    """The model, loaded once per process from botocore's bundled data."""
    return PinpointModel(botocore.session.get_session().get_service_model(SERVICE))


def conform(value: Any, shape: Shape) -> Any:
    """``value`` cut to ``shape``: members the model does not know and ``None`` values dropped.

    renraku's records carry more than Pinpoint's shapes (the native API shows all of it); the
    Pinpoint surface answers exactly the model's members so that strict clients parse every byte.
    The walk is compiled once per shape (botocore's shapes are slow to walk per response).
    """
    return _CONFORMERS.get(shape)(value)


Conformer = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


class _Conformers:
    """One compiled :func:`conform` per shape (recursive shapes resolve through the cache)."""

    def __init__(self) -> None:
        self._walks: PerShape[Any] = PerShape(self._compile, lambda s: (s.name, s.type_name))

    def get(self, shape: Shape) -> Conformer:
        return self._walks.get(shape)

    def _compile(self, shape: Shape) -> Conformer:
        if isinstance(shape, StructureShape):
            members = {name: self.get(member) for name, member in shape.members.items()}

            def structure(value: Any) -> Any:
                if not isinstance(value, Mapping):
                    return value
                out = {}
                for name, item in value.items():
                    walk = members.get(name)
                    if walk is not None and item is not None:
                        out[name] = item if walk is _same else walk(item)
                return out

            return structure
        if shape.type_name == "list":
            each = self.get(shape.member)  # type: ignore[attr-defined]

            def listed(value: Any) -> Any:
                if not isinstance(value, list | tuple):
                    return value
                return [each(item) for item in value if item is not None]

            return listed
        if shape.type_name == "map":
            inner = self.get(shape.value)  # type: ignore[attr-defined]

            def mapped(value: Any) -> Any:
                if not isinstance(value, Mapping):
                    return value
                return {k: inner(v) for k, v in value.items() if v is not None}

            return mapped
        return _same


_CONFORMERS = _Conformers()
