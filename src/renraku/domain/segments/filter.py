"""The one-line filter: a segment definition as people type it at a terminal.

    ChannelType = EMAIL and Attributes.CallStatus = PENDING

A pure conjunction of conditions is Pinpoint's ``Dimensions``; anything else (``or``, ``not``,
``segment ID``, a condition repeated) is ``SegmentGroups``. In ``SegmentGroups`` each group is
written in brackets and groups are joined by ``and`` (Include ALL), ``or`` (ANY) or
``not (... or ...)`` (NONE); inside a group, ``segment ID`` / ``segment any(ID, ID@2)`` names the
source segments, and the dimension blocks follow: ``c1 and c2`` (one block), ``(b1) and (b2)``
(Type ALL), ``(b1 or b2)`` (ANY), ``not (b1 or b2)`` (NONE). A lone unbracketed expression is one
group. ``format_filter`` prints a definition so that ``parse_filter`` reads it back unchanged.

Conditions (values compare case-sensitively, as in Pinpoint; quote values with spaces or symbols):

    ChannelType = EMAIL | ChannelType in (SMS, VOICE) | ChannelType != EMAIL | ... not in (...)
    Demographic.{AppVersion,DeviceType,Make,Model,Platform} and Location.Country: the same forms
    Attributes.NAME / UserAttributes.NAME: = v, in (..), != v, not in (..), contains v,
        contains (..), before DATE, after DATE, on DATE, between DATE and DATE
    Metrics.NAME > n (also <, >=, <=, =)
    Location.GPSPoint within 10 km of (35.68, 139.76)
    Behavior.Recency active within DAY_7 (or inactive; HR_24, DAY_7, DAY_14, DAY_30)
    true (every endpoint)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from renraku.domain.segments.model import (
    AttributeDimension,
    Dimensions,
    SegmentDefinition,
    SegmentGroup,
    SetDimension,
    SourceSegment,
)
from renraku.domain.segments.parse import parse_segment_definition
from renraku.errors import InvalidInput, Problem

KEYWORDS = frozenset(
    {
        "and", "or", "not", "in", "contains", "before", "after", "on", "between", "within",
        "km", "of", "segment", "any", "all", "true", "active", "inactive",
    }
)  # fmt: skip
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*"|'[^']*')
      | (?P<op>!=|>=|<=|=|>|<)
      | (?P<punct>[()\[\],])
      | (?P<word>[^\s()\[\],=!<>"']+)
    )""",
    re.VERBOSE,
)
_BARE_VALUE = re.compile(r"[A-Za-z0-9_+\-.:/@]+\Z")
_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*\Z")
_SET_FIELDS = {
    "ChannelType": "Channel",
    "Demographic.Channel": "Channel",
    "Demographic.AppVersion": "AppVersion",
    "Demographic.DeviceType": "DeviceType",
    "Demographic.Make": "Make",
    "Demographic.Model": "Model",
    "Demographic.Platform": "Platform",
}
_METRIC_OPS = {
    ">": "GREATER_THAN",
    "<": "LESS_THAN",
    ">=": "GREATER_THAN_OR_EQUAL",
    "<=": "LESS_THAN_OR_EQUAL",
    "=": "EQUAL",
}
_DATE_OPS = {"before": "BEFORE", "after": "AFTER", "on": "ON"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # str | op | punct | word | end
    text: str
    col: int

    @property
    def key(self) -> str:
        return self.text.lower() if self.kind == "word" else self.text


# AST: ("or", [n]) ("and", [n]) ("not", n) ("paren", n) ("bracket", n)
#      ("cond", key, dims_json, col) ("seg", source_type, [SourceSegment], col)
Node = tuple[Any, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._lex(text)
        self.i = 0

    def _lex(self, text: str) -> list[_Tok]:
        out: list[_Tok] = []
        pos = 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                self.fail_at(pos + 1, f"unexpected character {text[pos]!r}")
            assert m is not None
            kind = m.lastgroup or "word"
            out.append(_Tok(kind, m.group(kind), m.start(kind) + 1))
            pos = m.end()
        out.append(_Tok("end", "", len(text) + 1))
        return out

    def fail_at(self, col: int, message: str) -> None:
        raise InvalidInput([Problem(f"filter:{col}", message)], subject="segment filter")

    def fail(self, message: str) -> None:
        tok = self.peek()
        found = "the end of the filter" if tok.kind == "end" else repr(tok.text)
        self.fail_at(tok.col, f"{message}, found {found}")

    def peek(self, ahead: int = 0) -> _Tok:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> _Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def accept(self, key: str) -> bool:
        if self.peek().key == key and self.peek().kind in ("word", "op", "punct"):
            self.i += 1
            return True
        return False

    def expect(self, key: str, what: str) -> None:
        if not self.accept(key):
            self.fail(f"expected {what}")

    # -- grammar ------------------------------------------------------------------------------

    def parse(self) -> Node:
        node = self.expr()
        if self.peek().kind != "end":
            self.fail("expected and, or, or the end of the filter")
        return node

    def expr(self) -> Node:
        items = [self.term()]
        while self.accept("or"):
            items.append(self.term())
        return items[0] if len(items) == 1 else ("or", items)

    def term(self) -> Node:
        items = [self.factor()]
        while self.accept("and"):
            items.append(self.factor())
        return items[0] if len(items) == 1 else ("and", items)

    def factor(self) -> Node:
        tok = self.peek()
        if tok.kind == "word" and tok.key == "not" and self.peek(1).key != "in":
            self.i += 1
            return ("not", self.factor())
        if self.accept("("):
            inner = self.expr()
            self.expect(")", "')'")
            return ("paren", inner)
        if self.accept("["):
            inner = self.expr()
            self.expect("]", "']'")
            return ("bracket", inner)
        if tok.kind == "word" and tok.key == "segment":
            self.i += 1
            return self.segment_ref(tok.col)
        if tok.kind == "word" and tok.key == "true":
            self.i += 1
            return ("cond", None, {}, tok.col)
        return self.condition()

    def segment_ref(self, col: int) -> Node:
        kind = "ALL"
        if self.peek().key in ("any", "all") and self.peek(1).text == "(":
            kind = self.take().key.upper()
            self.take()
            refs = [self.source()]
            while self.accept(","):
                refs.append(self.source())
            self.expect(")", "')' after the source segments")
            return ("seg", kind, refs, col)
        return ("seg", kind, [self.source()], col)

    def source(self) -> SourceSegment:
        tok = self.take()
        if tok.kind not in ("word", "str"):
            self.i -= 1
            self.fail("expected a segment id")
        text = self.unquote(tok)
        m = re.fullmatch(r"(.+)@([0-9]+)", text) if tok.kind == "word" else None
        if m:
            return SourceSegment(m.group(1), int(m.group(2)))
        return SourceSegment(text)

    def unquote(self, tok: _Tok) -> str:
        if tok.kind == "str":
            if tok.text.startswith("'"):
                return tok.text[1:-1]
            return str(json.loads(tok.text))
        return tok.text

    def value(self) -> str:
        tok = self.take()
        if tok.kind not in ("word", "str"):
            self.i -= 1
            self.fail("expected a value")
        return self.unquote(tok)

    def value_list(self) -> list[str]:
        if self.accept("("):
            values = [self.value()]
            while self.accept(","):
                values.append(self.value())
            self.expect(")", "',' or ')'")
            return values
        return [self.value()]

    def number(self) -> float:
        tok = self.take()
        try:
            return float(tok.text) if tok.kind == "word" else float("nan")
        except ValueError:
            pass
        self.i -= 1
        self.fail("expected a number")
        raise AssertionError  # unreachable: fail raises

    def field(self) -> tuple[str, str | None, int]:
        tok = self.take()
        if tok.kind != "word":
            self.i -= 1
            self.fail("expected a condition (e.g. ChannelType = EMAIL)")
        text = tok.text
        for prefix in ("User.UserAttributes.", "UserAttributes.", "Attributes.", "Metrics."):
            if text.startswith(prefix):
                name = text[len(prefix) :]
                if not name and self.peek().kind == "str":
                    name = self.unquote(self.take())
                if not name:
                    self.fail_at(tok.col, f"{prefix} needs a name, e.g. {prefix}CallStatus")
                family = "UserAttributes" if "UserAttributes" in prefix else prefix[:-1]
                return family, name, tok.col
        return text, None, tok.col

    def set_condition(self, field: str, col: int) -> dict[str, Any]:
        if self.accept("="):
            kind, values = "INCLUSIVE", [self.value()]
        elif self.accept("!="):
            kind, values = "EXCLUSIVE", [self.value()]
        elif self.accept("in"):
            kind, values = "INCLUSIVE", self.value_list()
        elif self.peek().key == "not" and self.peek(1).key == "in":
            self.i += 2
            kind, values = "EXCLUSIVE", self.value_list()
        else:
            self.fail(f"expected =, !=, in or not in after {field}")
        return {"DimensionType": kind, "Values": values}

    def attribute_condition(self, name: str) -> dict[str, Any]:
        key = self.peek().key
        if key in ("=", "!=", "in") or (key == "not" and self.peek(1).key == "in"):
            spec = self.set_condition(name, 0)
            return {"AttributeType": spec["DimensionType"], "Values": spec["Values"]}
        if self.accept("contains"):
            return {"AttributeType": "CONTAINS", "Values": self.value_list()}
        if key in _DATE_OPS:
            self.i += 1
            return {"AttributeType": _DATE_OPS[key], "Values": [self.value()]}
        if self.accept("between"):
            first = self.value()
            self.expect("and", "'and' between the two dates")
            return {"AttributeType": "BETWEEN", "Values": [first, self.value()]}
        self.fail(
            f"expected =, !=, in, not in, contains, before, after, on or between after {name}"
        )
        raise AssertionError

    def condition(self) -> Node:
        family, name, col = self.field()
        dims: dict[str, Any]
        if family in ("Attributes", "UserAttributes"):
            assert name is not None
            dims = {family: {name: self.attribute_condition(name)}}
            key: Any = (family, name)
        elif family == "Metrics":
            assert name is not None
            op = self.take()
            if op.kind != "op":
                self.i -= 1
                self.fail(f"expected >, <, >=, <= or = after Metrics.{name}")
            dims = {"Metrics": {name: {"ComparisonOperator": _METRIC_OPS[op.text],
                                       "Value": self.number()}}}  # fmt: skip
            key = ("Metrics", name)
        elif family in _SET_FIELDS:
            dim = _SET_FIELDS[family]
            dims = {"Demographic": {dim: self.set_condition(family, col)}}
            key = ("Demographic", dim)
        elif family in ("Location.Country", "Country"):
            dims = {"Location": {"Country": self.set_condition(family, col)}}
            key = ("Country",)
        elif family == "Location.GPSPoint":
            self.expect("within", "'within' after Location.GPSPoint")
            rng = self.number()
            self.expect("km", "'km'")
            self.expect("of", "'of'")
            self.expect("(", "'(' before the latitude")
            lat = self.number()
            self.expect(",", "','")
            lon = self.number()
            self.expect(")", "')'")
            dims = {"Location": {"GPSPoint": {
                "Coordinates": {"Latitude": lat, "Longitude": lon}, "RangeInKilometers": rng}}}  # fmt: skip
            key = ("GPSPoint",)
        elif family == "Behavior.Recency":
            if self.peek().key not in ("active", "inactive"):
                self.fail("expected active or inactive after Behavior.Recency")
            kind = self.take().key.upper()
            self.expect("within", "'within'")
            duration = self.value()
            dims = {"Behavior": {"Recency": {"Duration": duration, "RecencyType": kind}}}
            key = ("Recency",)
        else:
            self.fail_at(
                col,
                f"unknown dimension {family!r}; accepted: ChannelType, Demographic.AppVersion, "
                "Demographic.DeviceType, Demographic.Make, Demographic.Model, "
                "Demographic.Platform, Location.Country, Location.GPSPoint, Attributes.NAME, "
                "UserAttributes.NAME, Metrics.NAME, Behavior.Recency",
            )
            raise AssertionError
        try:
            parse_segment_definition({"Dimensions": dims})
        except InvalidInput as exc:
            raise InvalidInput(
                [Problem(f"filter:{col}", f"{p.path}: {p.message}") for p in exc.problems],
                subject="segment filter",
            ) from exc
        return ("cond", key, dims, col)


# -- AST to definition ----------------------------------------------------------------------


def _strip(node: Node) -> Node:
    while node[0] == "paren":
        node = node[1]
    return node


def _fail(col: int, message: str) -> InvalidInput:
    return InvalidInput([Problem(f"filter:{col}", message)], subject="segment filter")


def _col(node: Node) -> int:
    if node[0] in ("cond", "seg"):
        return int(node[3])
    if node[0] in ("or", "and"):
        return _col(node[1][0])
    return _col(node[1])


def _merge(conds: list[Node]) -> list[dict[str, Any]]:
    """Conditions into dimension blocks: each goes into the first block without its key."""
    blocks: list[tuple[set[Any], dict[str, Any]]] = []
    for cond in conds:
        key, dims = cond[1], cond[2]
        target = next((b for b in blocks if key is None or key not in b[0]), None)
        if target is None:
            target = (set(), {})
            blocks.append(target)
        if key is not None:
            target[0].add(key)
        for family, spec in dims.items():
            target[1].setdefault(family, {}).update(spec)
    return [b[1] for b in blocks] or [{}]


def _block(node: Node) -> dict[str, Any]:
    node = _strip(node)
    items = node[1] if node[0] == "and" else [node]
    for item in items:
        if item[0] != "cond":
            raise _fail(_col(item), "a dimension block is conditions joined by 'and'")
    blocks = _merge(items)
    if len(blocks) > 1:
        raise _fail(_col(node), "a dimension block names each dimension once")
    return blocks[0]


def _group(node: Node) -> dict[str, Any]:
    items = node[1] if node[0] == "and" else [node]
    group: dict[str, Any] = {}
    sources = [i for i in items if i[0] == "seg"]
    rest = [i for i in items if i[0] != "seg"]
    if len(sources) > 1:
        raise _fail(sources[1][3], "name a group's sources once: segment all(A, B)")
    if sources:
        group["SourceSegments"] = [s.to_json() for s in sources[0][2]]
        group["SourceType"] = sources[0][1]
    group_type = "ALL"
    if len(rest) == 1 and _strip(rest[0])[0] == "or":
        group_type, blocks = "ANY", [_block(b) for b in _strip(rest[0])[1]]
    elif len(rest) == 1 and rest[0][0] == "not":
        inner = _strip(rest[0][1])
        group_type = "NONE"
        blocks = [_block(b) for b in inner[1]] if inner[0] == "or" else [_block(inner)]
    elif rest:
        bare = [i for i in rest if i[0] == "cond"]
        blocks = []
        for item in rest:
            if item[0] == "paren":
                blocks.append(_block(item))
            elif item[0] != "cond":
                raise _fail(
                    _col(item), "inside a group use (b1) and (b2), (b1 or b2) or not (b1 or b2)"
                )
            elif item is bare[0]:
                blocks.extend(_merge(bare))
    else:
        blocks = []
    if blocks:
        group["Dimensions"] = blocks
    group.setdefault("SourceType", "ALL")
    group["Type"] = group_type
    return group


def _to_json(node: Node) -> dict[str, Any]:
    items = node[1] if node[0] == "and" else [node]
    if all(i[0] == "cond" for i in items):
        blocks = _merge(items)
        if len(blocks) == 1:
            return {"Dimensions": blocks[0]}
    if node[0] == "bracket" or (
        node[0] in ("and", "or") and all(i[0] == "bracket" for i in node[1])
    ):
        include = "ANY" if node[0] == "or" else "ALL"
        groups = [node[1]] if node[0] == "bracket" else [g[1] for g in node[1]]
    elif node[0] == "not" and _strip(node[1])[0] == "bracket":
        include, groups = "NONE", [_strip(node[1])[1]]
    elif (
        node[0] == "not"
        and _strip(node[1])[0] == "or"
        and all(g[0] == "bracket" for g in _strip(node[1])[1])
    ):
        include, groups = "NONE", [g[1] for g in _strip(node[1])[1]]
    else:
        if any(_has_bracket(i) for i in items):
            raise _fail(_col(node), "join [groups] with and, or, or not ([g1] or [g2])")
        include, groups = "ALL", [node]
    for g in groups:
        if _has_bracket(g):
            raise _fail(_col(g), "groups cannot nest")
    return {"SegmentGroups": {"Groups": [_group(g) for g in groups], "Include": include}}


def _has_bracket(node: Node) -> bool:
    if node[0] == "bracket":
        return True
    if node[0] in ("and", "or"):
        return any(_has_bracket(n) for n in node[1])
    if node[0] in ("not", "paren"):
        return _has_bracket(node[1])
    return False


def parse_filter(text: str) -> SegmentDefinition:
    """The definition a one-line filter states; InvalidInput names the column of each problem."""
    if not text.strip():
        raise InvalidInput([Problem("filter:1", "empty filter; write true for every endpoint")],
                           subject="segment filter")  # fmt: skip
    try:
        node = _strip(_Parser(text).parse())
        return parse_segment_definition(_to_json(node))
    except RecursionError as exc:
        raise _fail(1, "nested too deeply") from exc


# -- printing -------------------------------------------------------------------------------


def _value(text: str) -> str:
    if _BARE_VALUE.match(text) and text.lower() not in KEYWORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _values(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(_value(v) for v in values) + ")"


def _name(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if _BARE_NAME.match(name) else f"{prefix}.{json.dumps(name)}"


def _set(field: str, dim: SetDimension) -> str:
    if dim.dimension_type == "INCLUSIVE":
        return f"{field} = {_value(dim.values[0])}" if len(dim.values) == 1 else (
            f"{field} in {_values(dim.values)}")  # fmt: skip
    return f"{field} != {_value(dim.values[0])}" if len(dim.values) == 1 else (
        f"{field} not in {_values(dim.values)}")  # fmt: skip


def _attribute(field: str, dim: AttributeDimension) -> str:
    kind, values = dim.attribute_type, dim.values
    if kind in ("INCLUSIVE", "EXCLUSIVE"):
        return _set(field, SetDimension(kind, values))
    if kind == "CONTAINS":
        shown = _value(values[0]) if len(values) == 1 else _values(values)
        return f"{field} contains {shown}"
    if kind == "BETWEEN":
        return f"{field} between {_value(values[0])} and {_value(values[1])}"
    return f"{field} {kind.lower()} {_value(values[0])}"


def _conditions(dims: Dimensions) -> list[str]:
    """The conditions of one block, channel and demographics first (as people read them)."""
    out = [
        _set("ChannelType" if field == "Channel" else f"Demographic.{field}", dim)
        for field, dim in sorted(dims.demographic.items(), key=lambda kv: kv[0] != "Channel")
    ]
    if dims.country is not None:
        out.append(_set("Location.Country", dims.country))
    if dims.gps is not None:
        g = dims.gps
        out.append(
            f"Location.GPSPoint within {_number(g.range_km)} km of "
            f"({_number(g.latitude)}, {_number(g.longitude)})"
        )
    out.extend(_attribute(_name("Attributes", k), v) for k, v in dims.attributes.items())
    out.extend(_attribute(_name("UserAttributes", k), v) for k, v in dims.user_attributes.items())
    for name, metric in dims.metrics.items():
        op = next(k for k, v in _METRIC_OPS.items() if v == metric.operator)
        out.append(f"{_name('Metrics', name)} {op} {_number(metric.value)}")
    if dims.recency is not None:
        r = dims.recency
        out.append(f"Behavior.Recency {r.recency_type.lower()} within {r.duration}")
    return out


def _block_text(dims: Dimensions, alone: bool) -> str:
    conds = _conditions(dims) or ["true"]
    text = " and ".join(conds)
    return text if alone and len(conds) == 1 else f"({text})"


def _group_text(group: SegmentGroup) -> str:
    parts: list[str] = []
    if group.sources:
        refs = [s.id if s.version is None else f"{s.id}@{s.version}" for s in group.sources]
        shown = [r if _BARE_VALUE.match(r) and r.lower() not in KEYWORDS else json.dumps(r)
                 for r in refs]  # fmt: skip
        if len(shown) == 1 and group.source_type == "ALL":
            parts.append(f"segment {shown[0]}")
        else:
            parts.append(f"segment {group.source_type.lower()}({', '.join(shown)})")
    blocks = group.dimensions
    if blocks:
        # One block means the same under ALL and ANY; it is printed (and read back) as ALL.
        if group.group_type in ("ALL", "ANY") and len(blocks) == 1:
            parts.append(" and ".join(_conditions(blocks[0]) or ["true"]))
        elif group.group_type == "ALL":
            parts.extend(_block_text(b, alone=False) for b in blocks)
        else:
            inner = " or ".join(_block_text(b, alone=True) for b in blocks)
            if group.group_type == "ANY":
                parts.append(f"({inner})")
            else:
                parts.append(f"not ({inner})" if len(blocks) > 1 else f"not {inner}")
    return "[" + (" and ".join(parts) or "true") + "]"


def format_filter(defn: SegmentDefinition) -> str:
    """The one-line filter for ``defn``; ``parse_filter`` reads it back to the same definition."""
    if defn.dimensions is not None:
        return " and ".join(_conditions(defn.dimensions)) or "true"
    groups = [_group_text(g) for g in defn.groups]
    if defn.include == "ANY":
        return " or ".join(groups)
    if defn.include == "NONE":
        return "not " + (groups[0] if len(groups) == 1 else "(" + " or ".join(groups) + ")")
    return " and ".join(groups)
