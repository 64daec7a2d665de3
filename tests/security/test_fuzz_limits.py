"""Fuzzing at the limits the everyday fuzz tests (tests/unit/test_fuzz_parsers.py) do not reach:
nesting deep enough to exhaust Python's recursion, huge fields and many columns, and free text
for the segment filter language. Every example runs under a hard timer (SIGALRM) as well as
hypothesis' deadline: the deadline only judges an example after it returns, the timer stops one
that would never return, so a hang fails the test instead of stalling the suite.

Found and fixed with these: a journey definition, a segment filter or a JSON import line nested
a few thousand levels deep raised RecursionError; each is now refused with a problem saying so."""

from __future__ import annotations

import io
import json
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renraku.domain.flows.model import parse_flow
from renraku.domain.journeys.model import load_definition
from renraku.domain.journeys.validation import problems
from renraku.domain.segments.filter import format_filter, parse_filter
from renraku.domain.segments.parse import parse_segment_definition
from renraku.errors import InvalidInput
from renraku.importing.readers import open_reader
from renraku.importing.rows import RowContext, endpoint_row
from renraku.importing.sources import Piece

HARD_SECONDS = 10
LIMITS = settings(
    max_examples=25, deadline=timedelta(seconds=3), suppress_health_check=[HealthCheck.too_slow]
)
CTX = RowContext(app_id="app", source="fuzz", default_region="JP", now="2026-03-05T01:00:00.000Z")


class Hung(Exception):
    """An example ran past the hard timer."""


@contextmanager
def hard_timer(seconds: float = HARD_SECONDS) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise Hung(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def refused_or_parsed(parse: Callable[[], Any]) -> tuple[Any, tuple[Any, ...]]:
    """(``parse()``'s result, ()) or (None, the problems of its InvalidInput); nothing else."""
    with hard_timer():
        try:
            return parse(), ()
        except InvalidInput as exc:
            refused = tuple(exc.problems)
    assert refused, "an InvalidInput names at least one problem"
    return None, refused


def test_the_hard_timer_turns_a_hang_into_a_failure() -> None:
    with pytest.raises(Hung), hard_timer(0.2):
        while True:
            pass


def _nested(kind: str, depth: int, core: str) -> str:
    opening, closing = {"list": ("[", "]"), "object": ('{"a":', "}")}[kind]
    return opening * depth + core + closing * depth


depths = st.integers(min_value=1, max_value=50_000)
kinds = st.sampled_from(["list", "object"])


@LIMITS
@given(kinds, depths)
def test_journey_definitions_nested_at_any_depth_are_refused_or_read(kind: str, depth: int) -> None:
    loaded, _ = refused_or_parsed(lambda: load_definition(_nested(kind, depth, "1")))
    if loaded is not None:
        with hard_timer():
            problems(loaded)


@LIMITS
@given(kinds, depths)
def test_json_import_lines_nested_at_any_depth_become_row_failures(kind: str, depth: int) -> None:
    first = b'{"ChannelType": "SMS", "Address": "+819012345678"}\n'
    data = first + _nested(kind, depth, '"+819012345678"').encode() + b'\n{"ChannelType": "SMS"}\n'
    piece = Piece("deep.json", len(data), "1", lambda: io.BytesIO(data))
    with hard_timer():
        reader = open_reader(piece, "JSON", None)
        try:
            outcomes = [endpoint_row(CTX, record) for record in reader.records()]
        finally:
            reader.close()
    assert len(outcomes) == 3  # the deep line is a failure; the lines around it are read
    assert outcomes[0][0] is not None
    assert outcomes[1][0] is None
    assert outcomes[1][1]


@LIMITS
@given(st.integers(min_value=1, max_value=5000), st.sampled_from(["paren", "not", "and"]))
def test_segment_filters_nested_at_any_depth_are_refused_or_parsed(depth: int, how: str) -> None:
    text = {
        "paren": "(" * depth + "channel = SMS" + ")" * depth,
        "not": "not " * depth + "channel = SMS",
        "and": " and ".join(["channel = SMS"] * depth),
    }[how]
    parsed, _ = refused_or_parsed(lambda: parse_filter(text))
    if parsed is not None:
        with hard_timer():
            assert parse_filter(format_filter(parsed)) == parsed


filter_words = st.sampled_from(
    ["channel", "=", "SMS", "and", "or", "not", "(", ")", "[", "]", "attributes.CallStatus",
     "in", "Pending", '"x', "user.Name", "!=", ",", "true", "demographic.platform", "0", "-1e9",
     "location.country", "JP", "within", "opt_out", "last 7 days", "\x00", "é"]
)  # fmt: skip


@LIMITS
@given(st.lists(filter_words | st.text(max_size=6), max_size=40))
def test_segment_filter_text_is_parsed_or_refused_with_a_column(words: list[str]) -> None:
    _, refused = refused_or_parsed(lambda: parse_filter(" ".join(words)))
    assert all(p.path.startswith("filter:") for p in refused)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
dimension_keys = st.sampled_from(
    ["Dimensions", "SegmentGroups", "Demographic", "Attributes", "UserAttributes", "Location",
     "Behavior", "Metrics", "Groups", "Include", "Type", "Values", "DimensionType",
     "SourceSegments", "Country", "GPSPoint", "RangeInKilometers", "Recency", "Duration"]
)  # fmt: skip


@LIMITS
@given(st.dictionaries(dimension_keys, json_values | st.dictionaries(dimension_keys, json_values)))
def test_segment_definitions_of_any_shape_are_parsed_or_refused(doc: dict[str, Any]) -> None:
    refused_or_parsed(lambda: parse_segment_definition(doc))


@LIMITS
@given(st.integers(min_value=1, max_value=3000), json_values)
def test_flows_with_huge_or_strange_action_lists_are_refused_or_parsed(
    count: int, value: Any
) -> None:
    actions = [
        {"Identifier": f"a{i}", "Type": "MessageParticipant", "Parameters": {"Text": value},
         "Transitions": {"NextAction": f"a{i + 1}"}}
        for i in range(count)
    ]  # fmt: skip
    refused_or_parsed(lambda: parse_flow({"Version": "2019-10-30", "StartAction": "a0",
                                          "Actions": actions}))  # fmt: skip


@LIMITS
@given(st.integers(min_value=1, max_value=2_000_000), st.integers(min_value=1, max_value=20_000))
def test_huge_csv_fields_and_very_wide_files_are_read_or_refused(size: int, width: int) -> None:
    header = b"ChannelType,Address," + b",".join(b"Attributes.a%d" % i for i in range(width))
    row = b"SMS,+819012345678," + b",".join([b"v"] * (width - 1) + [b"9" * size])
    data = header + b"\n" + row + b"\n"
    piece = Piece("wide.csv", len(data), "1", lambda: io.BytesIO(data))

    def read() -> int:
        reader = open_reader(piece, "CSV", None)
        try:
            return sum(1 for record in reader.records() if endpoint_row(CTX, record))
        finally:
            reader.close()

    refused_or_parsed(read)


def test_a_deep_journey_in_json_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput, match="nested too deeply"):
        load_definition(json.dumps({"Activities": 1})[:-1] + "," + _nested("object", 5000, "1")[1:])
