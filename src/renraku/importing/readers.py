"""CSV and NDJSON readers: a piece's text -> :class:`SourceRecord` (an EndpointRequest per row).

CSV uses Pinpoint's column names (``ChannelType``, ``Address``, ``Id``, ``User.UserId``,
``User.UserAttributes.x``, ``Attributes.x``, ``Metrics.x``, ``Demographic.x``, ``Location.x``,
``OptOut``, ``EffectiveDate``, ...) plus the spellings people write (``Channel``, ``User.UserID``);
headers match case-insensitively with surrounding spaces ignored, and a repeated attribute column
gives the attribute several values. NDJSON holds one Pinpoint endpoint object per line.

Opening a reader checks the header (or the first line) and raises ImportRejected when the file
cannot be imported at all; per-row problems travel with each record as issues. ``Reader.raw``
yields cheap raw items (a row's cells, a JSON line) that the reader's picklable ``decoder`` turns
into records, so decoding can run in the validation workers.
"""

from __future__ import annotations

import csv
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, Union

from renraku.domain.addresses import looks_like_phone
from renraku.domain.endpoint_rules import CHANNEL_TYPES, Issue
from renraku.domain.endpoints import DEMOGRAPHIC_FIELDS, LOCATION_FIELDS
from renraku.errors import ImportRejected, Problem
from renraku.importing.failures import Failure
from renraku.importing.sources import CountingReader, Piece
from renraku.importing.text import TextSource, open_text, printable, undecodable

# Fields of Pinpoint's endpoint responses that an import does not take (they are set by renraku).
OUTPUT_ONLY = frozenset({"applicationid", "cohortid", "creationdate"})

_SCALARS = {
    "channeltype": "ChannelType",
    "channel": "ChannelType",
    "address": "Address",
    "id": "Id",
    "user.userid": "User.UserId",
    "userid": "User.UserId",
    "optout": "OptOut",
    "effectivedate": "EffectiveDate",
    "endpointstatus": "EndpointStatus",
    "requestid": "RequestId",
}
_MAPS = (
    ("user.userattributes.", "User.UserAttributes"),
    ("attributes.", "Attributes"),
    ("metrics.", "Metrics"),
    ("demographic.", "Demographic"),
    ("location.", "Location"),
)
_CANONICAL = {
    "Demographic": {n.lower(): n for n in DEMOGRAPHIC_FIELDS},
    "Location": {n.lower(): n for n in LOCATION_FIELDS},
}
_DELIMITERS = (",", "\t", ";")


@dataclass(slots=True)
class SourceRecord:
    """One record of a piece: where it is, the EndpointRequest it holds, and issues found reading it."""

    line: int
    request: dict[str, Any]
    endpoint_id: str | None = None
    issues: list[Issue] = field(default_factory=list)


def _reject(name: str, message: str) -> ImportRejected:
    return ImportRejected([Problem(name, message)], subject="import source")


class Reader(ABC):
    """A piece opened for reading; iterate :meth:`records`. ``notes`` hold header-level remarks."""

    def __init__(self, piece: Piece, text: TextSource, counter: CountingReader) -> None:
        self.piece = piece
        self.text = text
        self._counter = counter
        self.notes: list[Failure] = []

    @property
    def encoding(self) -> str:
        return self.text.encoding

    @property
    def bytes_read(self) -> int:
        return self._counter.bytes_read

    @property
    @abstractmethod
    def decoder(self) -> Decoder:
        """Turns the raw items of :meth:`raw` into records (picklable: workers use it)."""

    @abstractmethod
    def raw(self) -> Iterator[RawItem]:
        """The piece's records in order, as cheap raw items (finished records where bad)."""

    def records(self) -> Iterator[SourceRecord]:
        decode = self.decoder.decode
        for item in self.raw():
            yield item if isinstance(item, SourceRecord) else decode(item[0], item[1])

    def close(self) -> None:
        self.text.close()

    def _bad_bytes_reason(self) -> str:
        hint = " (is the file in another encoding? give it with --encoding)"
        return f"holds bytes that are not valid {self.encoding}{hint if self.text.detected else ''}"


@dataclass(frozen=True, slots=True)
class _Column:
    index: int
    kind: str  # a scalar's canonical name, or a map name (Attributes, Metrics, ...)
    key: str | None  # the attribute / field name inside a map
    header: str  # as written in the file


RawItem = Union["SourceRecord", tuple[int, Any]]


class Decoder(Protocol):
    """Builds a record from a raw item ``(line, payload)``; must be picklable."""

    def decode(self, line: int, payload: Any) -> SourceRecord: ...


@dataclass(frozen=True, slots=True)
class CsvDecoder:
    """A CSV row's cells -> an EndpointRequest, by the header's column plan."""

    columns: tuple[_Column, ...]

    def decode(self, line: int, payload: Any) -> SourceRecord:
        cells: list[str] = payload
        request: dict[str, Any] = {}
        endpoint_id: str | None = None
        for column in self.columns:
            value = cells[column.index].strip()
            if not value:
                continue
            kind = column.kind
            if column.key is None:
                if kind == "Id":
                    endpoint_id = value
                elif kind == "User.UserId":
                    request.setdefault("User", {})["UserId"] = value
                else:
                    request[kind] = value
            elif kind == "Attributes":
                request.setdefault("Attributes", {}).setdefault(column.key, []).append(value)
            elif kind == "User.UserAttributes":
                attrs = request.setdefault("User", {}).setdefault("UserAttributes", {})
                attrs.setdefault(column.key, []).append(value)
            else:
                request.setdefault(kind, {})[column.key] = value
        return SourceRecord(line, request, endpoint_id, [])


@dataclass(frozen=True, slots=True)
class JsonDecoder:
    """An NDJSON line -> an EndpointRequest (Pinpoint's nested objects)."""

    def decode(self, line: int, payload: Any) -> SourceRecord:
        text: str = payload
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            issue = Issue("", text[:200], f"not valid JSON: {exc.msg} at column {exc.colno}")
            return SourceRecord(line, {}, None, [issue])
        except RecursionError:
            issue = Issue("", text[:200], "nested too deeply to be an endpoint")
            return SourceRecord(line, {}, None, [issue])
        if not isinstance(obj, dict):
            issue = Issue("", text[:200], "each line must be a JSON object (an endpoint)")
            return SourceRecord(line, {}, None, [issue])
        issues: list[Issue] = []
        endpoint_id = obj.pop("Id", None)
        if endpoint_id is not None and not isinstance(endpoint_id, str):
            issues.append(Issue("Id", repr(endpoint_id), "must be a string"))
            endpoint_id = None
        for key in list(obj):
            if key.lower() in OUTPUT_ONLY:
                del obj[key]
        return SourceRecord(line, obj, endpoint_id or None, issues)


def _plan_column(index: int, header: str) -> tuple[_Column | None, str | None]:
    """The column a header cell names, or None and why it is not used."""
    cell = header.strip().lstrip("\ufeff").strip()
    low = cell.lower()
    if low in _SCALARS:
        return _Column(index, _SCALARS[low], None, cell), None
    for prefix, kind in _MAPS:
        if low.startswith(prefix):
            key = cell[len(prefix) :].strip()
            if not key:
                return None, f"{kind} column without a name after {prefix!r}"
            canonical = _CANONICAL.get(kind)
            if canonical is not None:
                if key.lower() not in canonical:
                    return None, f"unknown {kind} field; expected {', '.join(canonical.values())}"
                key = canonical[key.lower()]
            return _Column(index, kind, key, cell), None
    if low in OUTPUT_ONLY:
        return None, "set by renraku, not imported; column ignored"
    if not cell:
        return None, "column without a header; ignored"
    return None, "unknown column; ignored (Pinpoint names such as Attributes.x are imported)"


def _looks_like_data(cells: list[str]) -> bool:
    for cell in cells:
        text = cell.strip()
        if text.upper() in CHANNEL_TYPES or looks_like_phone(text) or "@" in text:
            return True
    return False


class CsvReader(Reader):
    """Pinpoint's endpoint CSV."""

    def __init__(self, piece: Piece, text: TextSource, counter: CountingReader) -> None:
        super().__init__(piece, text, counter)
        name = piece.name
        first = text.stream.readline()
        lines_before = 1
        while first and not first.strip():
            first = text.stream.readline()
            lines_before += 1
        if not first:
            raise _reject(name, "the file is empty")
        if undecodable(first):
            raise _reject(name, f"the header line {self._bad_bytes_reason()}")
        self.delimiter = max(_DELIMITERS, key=first.count) if first.count(",") == 0 else ","
        try:
            header = next(csv.reader([first], delimiter=self.delimiter, strict=True))
        except csv.Error as exc:
            raise _reject(
                f"{name}:{lines_before}", f"the header line is malformed CSV: {exc}"
            ) from exc
        self.header_line = lines_before
        self.width = len(header)
        columns: list[_Column] = []
        seen: dict[str, str] = {}
        for index, cell in enumerate(header):
            column, why = _plan_column(index, cell)
            if column is None:
                self.notes.append(Failure(name, lines_before, cell.strip(), None, why or "ignored"))
                continue
            if column.key is None:
                if column.kind in seen:
                    raise _reject(
                        f"{name}:{lines_before}",
                        f"columns {seen[column.kind]!r} and {column.header!r} both give "
                        f"{column.kind}; keep one",
                    )
                seen[column.kind] = column.header
            columns.append(column)
        if not columns:
            if _looks_like_data(header):
                raise _reject(
                    f"{name}:{lines_before}",
                    "the file has no header row (the first line looks like data); add one, "
                    "e.g. ChannelType,Address,User.UserId,Attributes.CallStatus",
                )
            raise _reject(
                f"{name}:{lines_before}",
                "the header has no column renraku can use; expected Pinpoint's names: "
                "ChannelType (or Channel), Address, User.UserId, Attributes.x, ...",
            )
        for required in ("ChannelType", "Address"):
            if required not in seen:
                also = " (or Channel)" if required == "ChannelType" else ""
                raise _reject(
                    f"{name}:{lines_before}", f"the header has no {required}{also} column"
                )
        self.columns = columns
        self._first_data_line = lines_before + 1

    @property
    def decoder(self) -> CsvDecoder:
        return CsvDecoder(tuple(self.columns))

    def raw(self) -> Iterator[RawItem]:
        reader = csv.reader(self.text.stream, delimiter=self.delimiter, strict=True)
        offset = self._first_data_line - 1
        last = 0
        columns = self.columns
        width = self.width
        while True:
            start = offset + last + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                end = offset + reader.line_num
                span = f"line {start}" if end == start else f"lines {start}-{end}"
                last = reader.line_num
                yield SourceRecord(
                    start, {}, None, [Issue("", None, f"malformed CSV ({span}): {exc}")]
                )
                continue
            last = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank lines and the all-empty rows spreadsheets leave at the end
            issues: list[Issue] = []
            if len(cells) != width:
                if len(cells) > width and not any(c.strip() for c in cells[width:]):
                    cells = cells[:width]
                else:
                    issues.append(
                        Issue(
                            "",
                            None,
                            f"the row has {len(cells)} cells but the header has {width} columns "
                            "(a stray delimiter or quote?)",
                        )
                    )
                    yield SourceRecord(start, {}, None, issues)
                    continue
            joined = "".join(cells)
            if undecodable(joined):
                for column in columns:
                    if undecodable(cells[column.index]):
                        issues.append(
                            Issue(
                                column.header,
                                printable(cells[column.index]),
                                self._bad_bytes_reason(),
                            )
                        )
                yield SourceRecord(start, {}, None, issues)
                continue
            yield (start, cells)


class JsonReader(Reader):
    """Newline-delimited JSON: one Pinpoint endpoint object per line."""

    def __init__(self, piece: Piece, text: TextSource, counter: CountingReader) -> None:
        super().__init__(piece, text, counter)
        self._pending: list[str] = []
        while True:
            line = text.stream.readline()
            if not line:
                raise _reject(piece.name, "the file is empty")
            self._pending.append(line)
            if line.strip():
                break
        first = line.lstrip()
        if first.startswith("["):
            raise _reject(
                piece.name,
                "is a JSON array; renraku reads newline-delimited JSON (one endpoint object "
                "per line)",
            )
        if not first.startswith("{"):
            raise _reject(
                f"{piece.name}:{len(self._pending)}",
                "is not newline-delimited JSON (each line must be a JSON object)",
            )

    def _lines(self) -> Iterator[str]:
        yield from self._pending
        self._pending = []
        yield from self.text.stream

    @property
    def decoder(self) -> JsonDecoder:
        return JsonDecoder()

    def raw(self) -> Iterator[RawItem]:
        for number, line in enumerate(self._lines(), start=1):
            text = line.strip()
            if not text:
                continue
            if undecodable(text):
                issue = Issue("", printable(text[:200]), self._bad_bytes_reason())
                yield SourceRecord(number, {}, None, [issue])
                continue
            yield (number, text)


def open_reader(piece: Piece, fmt: str, encoding: str | None) -> Reader:
    """Open ``piece`` as ``fmt`` (CSV or JSON); ImportRejected when it cannot be read at all."""
    try:
        raw = piece.open()
    except OSError as exc:
        raise _reject(piece.name, f"cannot be read: {exc}") from exc
    counter = raw if isinstance(raw, CountingReader) else CountingReader(raw)
    text = open_text(piece.name, counter, encoding)
    try:
        return CsvReader(piece, text, counter) if fmt == "CSV" else JsonReader(piece, text, counter)
    except BaseException:
        text.close()
        raise
