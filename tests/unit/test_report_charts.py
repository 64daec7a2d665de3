"""Reports and their SVG charts: self-contained, escaped, on a real time axis."""

from __future__ import annotations

from renraku.simulation import charts, report


def test_labels_are_escaped_so_a_customer_supplied_name_cannot_inject_markup() -> None:
    svg = charts.bars("<b>title</b>", [charts.Bar("<script>alert(1)</script>", 3)])
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "&lt;b&gt;title" in svg


def test_whiskers_are_drawn_only_for_bars_with_a_spread() -> None:
    plain = charts.bars("t", [charts.Bar("a", 3)])
    spread = charts.bars("t", [charts.Bar("a", 3, 1, 5)])
    assert "<path" not in plain
    assert spread.count("<path") == 1


def test_hours_without_sends_stay_on_the_axis_between_busy_hours() -> None:
    hours = report._hours({"2026-12-01T00:00Z": {"VOICE": 5}, "2026-12-01T03:00Z": {"SMS": 2}})
    assert list(hours) == ["00:00Z", "01:00Z", "02:00Z", "03:00Z"]
    assert hours["01:00Z"] == {}


def test_stacked_columns_draw_one_rectangle_per_nonzero_cell_and_a_legend_entry_per_key() -> None:
    svg = charts.stacked_columns("s", {"a": {"SMS": 1, "EMAIL": 2}, "b": {"SMS": 0}})
    assert svg.count("<rect") == 2 + 2  # two legend squares, two bars
    assert svg.count("<title>") == 2
