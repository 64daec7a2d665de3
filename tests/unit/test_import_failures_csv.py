"""Rejected rows exported as CSV: every field present, formula-looking values escaped."""

from __future__ import annotations

import csv
import io

import pytest

from renraku.importing.failures import Failure, spreadsheet_safe, write_failures_csv


@pytest.mark.parametrize(
    "value",
    ["=cmd|' /C calc'!A0", "@SUM(A1)", '+HYPERLINK("x")', "-2+3*cmd|x", "\t=1", "＝1+1"],
)
def test_formula_looking_values_are_prefixed_so_a_spreadsheet_shows_them(value: str) -> None:
    assert spreadsheet_safe(value) == "'" + value


@pytest.mark.parametrize("value", ["+819011111111", "-12.5", "+81 (90) 1111-1111", "plain", ""])
def test_numbers_phone_numbers_and_text_are_left_alone(value: str) -> None:
    assert spreadsheet_safe(value) == value


def test_failures_csv_has_a_header_and_one_line_per_failure() -> None:
    out = io.StringIO()
    count = write_failures_csv(
        out,
        [
            Failure("list.csv", 7, "Attributes.Name", "=cmd|' /C calc'!A0", "too long"),
            Failure("list.csv", None, None, None, "reading stopped"),
        ],
    )
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert count == 2
    assert rows == [
        ["source", "line", "column", "value", "reason"],
        ["list.csv", "7", "Attributes.Name", "'=cmd|' /C calc'!A0", "too long"],
        ["list.csv", "", "", "", "reading stopped"],
    ]
