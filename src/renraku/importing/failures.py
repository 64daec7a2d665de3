"""Rejected rows: the :class:`Failure` record and its CSV export, escaped against formula injection.

Values are kept exactly as the user gave them (a cell reading ``=cmd|' /C calc'!A0`` is data); only
when written to a CSV that a spreadsheet may open is such a value prefixed with ``'`` so that it is
shown, never evaluated.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

FAILURE_COLUMNS = ("source", "line", "column", "value", "reason")

_FORMULA_START = ("=", "@", "\t", "\r", "+", "-", "＝", "＠", "＋", "－")
# A cell starting with + or - that is only a number or phone number cannot run anything.
_NUMBERISH = frozenset("0123456789 -+().")


@dataclass(frozen=True, slots=True)
class Failure:
    """A rejected row (or a note on the header): file, line, column, value and why."""

    source: str
    line: int | None
    column: str | None
    value: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        what = f" {self.column}" if self.column else ""
        value = f" {self.value!r}" if self.value is not None else ""
        return f"{where}:{what}{value}: {self.reason}"


def spreadsheet_safe(value: str) -> str:
    """``value`` as a spreadsheet will show it but never evaluate it (OWASP CSV injection rule)."""
    if not value or not value.startswith(_FORMULA_START):
        return value
    if value[0] in "+-" and len(value) > 1 and set(value) <= _NUMBERISH:
        return value
    return "'" + value


def write_failures_csv(out: IO[str], failures: Iterable[Failure]) -> int:
    """Write ``failures`` as CSV (header: source,line,column,value,reason); returns the count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FAILURE_COLUMNS)
    count = 0
    for f in failures:
        writer.writerow(
            [
                spreadsheet_safe(f.source),
                "" if f.line is None else f.line,
                spreadsheet_safe(f.column or ""),
                spreadsheet_safe(f.value or ""),
                spreadsheet_safe(f.reason),
            ]
        )
        count += 1
    return count
