"""Inline SVG charts and the journey figures behind them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from renraku.web.charts import (
    bar_chart,
    hourly_series,
    line_chart,
    nice_max,
    reach_funnel,
    tick_values,
)

SVG = "{http://www.w3.org/2000/svg}"
SEED = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "seed-journey.json").read_text()
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 1), (1, 1), (3, 5), (7, 10), (10, 10), (11, 20), (180, 200), (0.3, 0.5)],
)
def test_axis_top_is_the_next_one_two_or_five_times_a_power_of_ten(
    value: float, expected: float
) -> None:
    assert nice_max(value) == pytest.approx(expected)


def test_bar_heights_are_proportional_to_values_and_every_bar_is_labelled() -> None:
    svg = bar_chart(
        ["VOICE", "SMS"],
        ["Sent", "Delivered"],
        {("VOICE", "Sent"): 10, ("VOICE", "Delivered"): 5, ("SMS", "Sent"): 4},
        title="Reach",
    )
    root = ET.fromstring(svg)
    bars = {
        (g.get("data-category"), g.get("data-series")): g
        for g in root.iter(f"{SVG}g")
        if g.get("class", "").startswith("bar ")
    }
    assert len(bars) == 4

    def height(key: tuple[str, str]) -> float:
        rect = bars[key].find(f"{SVG}rect")
        assert rect is not None
        return float(rect.get("height", "0"))

    assert height(("VOICE", "Sent")) == pytest.approx(2 * height(("VOICE", "Delivered")))
    assert height(("SMS", "Delivered")) == 0
    assert bars[("SMS", "Sent")].get("data-value") == "4"


def test_line_chart_draws_one_polyline_per_series_with_a_point_per_label() -> None:
    svg = line_chart(["a", "b", "c"], {"SMS": [0, 2, 1], "EMAIL": [1, 1, 1]}, title="Sends")
    root = ET.fromstring(svg)
    lines = [g for g in root.iter(f"{SVG}g") if (g.get("class") or "").startswith("line ")]
    assert [g.get("data-series") for g in lines] == ["SMS", "EMAIL"]
    sms = lines[0].find(f"{SVG}polyline")
    assert sms is not None
    ys = [float(p.split(",")[1]) for p in sms.get("points", "").split()]
    assert len(ys) == 3
    assert ys[1] < ys[2] < ys[0]
    assert lines[0].get("data-total") == "3"


def test_hourly_series_fills_hours_without_sends_with_zero() -> None:
    labels, series = hourly_series(
        [("2026-03-05T01", "VOICE", 6), ("2026-03-05T03", "SMS", 4), ("2026-03-05T03", "VOICE", 1)]
    )
    assert labels == ["03-05 01:00", "03-05 02:00", "03-05 03:00"]
    assert series == {"SMS": [0, 0, 4], "VOICE": [6, 0, 1]}
    assert hourly_series([]) == ([], {})


def test_reach_funnel_counts_each_channel_from_its_activities_metrics() -> None:
    activities = [
        {
            "JourneyActivityId": "call",
            "Metrics": {"SENT": "10", "CALL_ANSWERED": "7", "CALL_REACHED": "4"},
        },
        {"JourneyActivityId": "sms", "Metrics": {"SENT": "6", "DELIVERED": "5", "SKIPPED": "1"}},
        {"JourneyActivityId": "wait-call", "Metrics": {"COMPLETED": "10"}},
    ]
    funnel = reach_funnel(SEED, activities)
    assert funnel.channels == ["VOICE", "SMS"]  # the seed's CUSTOM call counts as a call
    assert funnel.values[("VOICE", "Attempted")] == 10
    assert funnel.values[("VOICE", "Delivered")] == 7
    assert funnel.values[("VOICE", "Reached")] == 4
    assert funnel.values[("SMS", "Attempted")] == 7
    assert funnel.values[("SMS", "Delivered")] == 5


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        (1, [0, 1]),
        (5, [0, 1, 2, 3, 4, 5]),
        (2, [0, 1, 2]),
        (20, [0, 5, 10, 15, 20]),
        (50, [0, 10, 20, 30, 40, 50]),
        (100, [0, 20, 40, 60, 80, 100]),
    ],
)
def test_gridlines_fall_on_round_values(top: float, expected: list[float]) -> None:
    assert tick_values(top) == expected


def test_the_last_time_label_ends_at_the_right_edge_so_it_is_not_cut_off() -> None:
    root = ET.fromstring(line_chart(["a", "b", "c"], {"SMS": [1, 2, 3]}, title="Sends"))
    labels = [t for t in root.iter(f"{SVG}text") if t.get("class") == "axis-label"]
    assert [t.get("style") for t in labels] == [
        "text-anchor:start",
        "text-anchor:middle",
        "text-anchor:end",
    ]
