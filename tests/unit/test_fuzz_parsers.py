"""Fuzzing of everything that parses outside input: the CSV and JSON importer, contact flows and
journey definitions. Whatever the bytes, a parser answers with its result or with InvalidInput
naming where and why; it never crashes with another exception and never hangs (hypothesis'
deadline bounds every example)."""

from __future__ import annotations

import copy
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renraku.domain.flows.interpreter import new_call, pending
from renraku.domain.flows.model import action_types, parse_flow, unreachable
from renraku.domain.journeys.model import build_journey, load_definition, parse_duration
from renraku.domain.journeys.validation import problems
from renraku.errors import InvalidInput
from renraku.importing.readers import open_reader
from renraku.importing.rows import RowContext, endpoint_row
from renraku.importing.sources import Piece

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FUZZ = settings(
    max_examples=50, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow]
)
CTX = RowContext(app_id="app", source="fuzz", default_region="JP", now="2026-03-05T01:00:00.000Z")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
HEADERS = [
    "ChannelType",
    "Address",
    "Id",
    "User.UserId",
    "OptOut",
    "EndpointStatus",
    "Location.Country",
    "Demographic.Timezone",
    "Attributes.CallStatus",
    "User.UserAttributes.Name",
    "Metrics.score",
    "EffectiveDate",
    "Unknown.Column",
    "",
]
cells = st.sampled_from(
    [
        "SMS",
        "EMAIL",
        "VOICE",
        "+819012345678",
        "a@example.com",
        "ALL",
        "NONE",
        "ACTIVE",
        "JP",
        "Asia/Tokyo",
        "1.5",
        "2026-01-01T00:00:00Z",
        "",
        '"',
        "\x00",
        "é",
        "a,b",
        "\n",
    ]
) | st.text(max_size=12)


def _import(data: bytes, fmt: str) -> int:
    """Read every record of ``data`` as ``fmt`` and turn each into an endpoint row or failures."""
    piece = Piece("fuzz." + fmt.lower(), len(data), "1", lambda: io.BytesIO(data))
    try:
        reader = open_reader(piece, fmt, None)
    except InvalidInput:
        return 0
    rows = 0
    try:
        for record in reader.records():
            row, failures = endpoint_row(CTX, record)
            assert (row is None) == bool(failures)
            rows += 1
    except InvalidInput:
        pass  # the file was rejected with a reason
    finally:
        reader.close()
    return rows


@FUZZ
@given(st.binary(max_size=600))
def test_csv_import_of_arbitrary_bytes_rejects_or_reads_never_crashes(data: bytes) -> None:
    _import(data, "CSV")


@FUZZ
@given(
    st.lists(st.sampled_from(HEADERS), min_size=1, max_size=8),
    st.lists(st.lists(cells, max_size=9), max_size=8),
    st.sampled_from([",", ";", "\t"]),
)
def test_csv_import_of_pinpoint_shaped_files_never_crashes(
    header: list[str], rows: list[list[str]], sep: str
) -> None:
    text = sep.join(header) + "\n" + "\n".join(sep.join(r) for r in rows)
    _import(text.encode(), "CSV")


@FUZZ
@given(st.lists(json_values | st.text(max_size=30), max_size=6))
def test_json_import_of_arbitrary_lines_never_crashes(lines: list[Any]) -> None:
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines)
    _import(text.encode(), "JSON")


@FUZZ
@given(st.binary(max_size=400))
def test_json_import_of_arbitrary_bytes_never_crashes(data: bytes) -> None:
    _import(data, "JSON")


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [at]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*at, i))
    return out


def _mutate(data: st.DataObject, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with one to three randomly chosen subtrees replaced or removed."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(path[-1])
        else:
            parent[path[-1]] = data.draw(json_values)
    return doc


SEED_FLOW = json.loads((EXAMPLES / "seed-flow.json").read_text())
SEED_JOURNEY = json.loads((EXAMPLES / "seed-journey.json").read_text())


@FUZZ
@given(st.data())
def test_mutated_contact_flows_parse_or_are_refused_with_problems(data: st.DataObject) -> None:
    doc = _mutate(data, SEED_FLOW)
    try:
        flow = parse_flow(doc)
    except InvalidInput as exc:
        refused = exc.problems
        assert refused
        return
    unreachable(flow)
    action_types(flow)
    pending(flow, new_call("f1", contact_id="c1", customer_address="+819012345678"))


@FUZZ
@given(json_values)
def test_any_json_value_as_a_flow_is_refused_cleanly(value: Any) -> None:
    refused: list[Any] = ["accepted"]
    try:
        parse_flow(value)
    except InvalidInput as exc:
        refused = list(exc.problems)
    assert refused


@FUZZ
@given(st.data())
def test_mutated_journeys_validate_with_problems_or_build(data: st.DataObject) -> None:
    doc = _mutate(data, SEED_JOURNEY)
    found = problems(doc)
    if not found:
        build_journey("app", "j1", 1, doc)


@FUZZ
@given(st.text(max_size=300))
def test_journey_text_loads_or_is_refused_cleanly(text: str) -> None:
    try:
        loaded = load_definition(text)
    except InvalidInput as exc:
        refused = exc.problems
        assert refused
        return
    assert isinstance(loaded, dict)
    problems(loaded)


@FUZZ
@given(st.text(max_size=40))
def test_durations_parse_or_raise_value_error(text: str) -> None:
    try:
        parsed = parse_duration(text)
    except ValueError as exc:
        reason = str(exc)
        assert reason
        return
    assert parsed.total_seconds() >= 0
