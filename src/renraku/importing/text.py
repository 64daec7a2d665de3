"""Turning a piece's bytes into text: encoding detection (UTF-8, UTF-8 with BOM, UTF-16, CP932).

Detection reads a sample from the start. Bytes later in the file that the chosen encoding cannot
decode do not stop the import: they are carried as surrogate escapes, and the record holding them
is rejected with a reason (see :func:`undecodable`), so every good row still imports.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass

from renraku.errors import ImportRejected, Problem

SAMPLE_BYTES = 1 << 16

# Names people give to what Excel in Japan writes; CP932 is the superset Windows actually uses.
_ALIASES = {
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "s-jis": "cp932",
    "ms932": "cp932",
    "windows-31j": "cp932",
    "utf8": "utf-8",
    "utf-8-bom": "utf-8-sig",
    "utf8-bom": "utf-8-sig",
}


class _Chain(io.RawIOBase):
    """A raw stream that first returns ``head`` and then the rest of ``tail``."""

    def __init__(self, head: bytes, tail: io.RawIOBase) -> None:
        self._head = memoryview(head)
        self._tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._tail.readinto(buffer) or 0

    def close(self) -> None:
        try:
            self._tail.close()
        finally:
            super().close()


def canonical_encoding(name: str) -> str:
    """The codec renraku uses for ``name`` (``Shift_JIS`` -> ``cp932``); unknown: ImportRejected."""
    key = name.strip().lower()
    codec = _ALIASES.get(key, key)
    try:
        return codecs.lookup(codec).name
    except LookupError:
        raise ImportRejected(
            [Problem("--encoding", f"unknown encoding {name!r}; try utf-8, utf-8-sig or cp932")],
            subject="import source",
        ) from None


def _decodes(sample: bytes, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(sample: bytes) -> str | None:
    """The encoding of a file starting with ``sample``, or None when it is none renraku knows."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(sample, "utf-8"):
        return "utf-8"
    if _decodes(sample, "cp932"):
        return "cp932"
    return None


def _binary_reason(sample: bytes) -> str | None:
    if sample.startswith(b"PK\x03\x04"):
        return "is a ZIP archive (an Excel workbook?); save it as CSV UTF-8 and import that"
    if sample.startswith(b"\xd0\xcf\x11\xe0"):
        return "is an old Excel (.xls) workbook; save it as CSV and import that"
    if b"\x00" in sample[:4096]:
        return "is binary, not text (it contains NUL bytes)"
    return None


@dataclass
class TextSource:
    """An open piece as text, with the encoding in use and whether it was detected."""

    stream: io.TextIOWrapper
    encoding: str
    detected: bool

    def close(self) -> None:
        self.stream.close()


def open_text(name: str, raw: io.RawIOBase, encoding: str | None) -> TextSource:
    """Open ``raw`` as text in ``encoding`` (or the detected one). Unreadable: ImportRejected."""
    try:
        sample = raw.read(SAMPLE_BYTES) or b""
    except OSError as exc:
        raw.close()
        raise ImportRejected(
            [Problem(name, f"cannot be read: {exc}")], subject="import source"
        ) from exc
    detected = encoding is None
    if encoding is None:
        if not sample:
            raw.close()
            raise ImportRejected([Problem(name, "the file is empty")], subject="import source")
        reason = (
            None
            if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
            else (_binary_reason(sample))
        )
        found = None if reason else detect_encoding(sample)
        if found is None:
            raw.close()
            raise ImportRejected(
                [
                    Problem(
                        name,
                        reason
                        or "the encoding is neither UTF-8 nor Shift_JIS/CP932; "
                        "give it with --encoding",
                    )
                ],
                subject="import source",
            )
        encoding = found
    else:
        encoding = canonical_encoding(encoding)
        if encoding == "utf-8" and sample.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
    buffered = io.BufferedReader(_Chain(sample, raw), buffer_size=SAMPLE_BYTES)
    stream = io.TextIOWrapper(buffered, encoding=encoding, errors="surrogateescape", newline="")
    return TextSource(stream=stream, encoding=encoding, detected=detected)


def undecodable(text: str) -> bool:
    """True when ``text`` holds bytes the encoding could not decode (or NUL characters)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def printable(text: str) -> str:
    """``text`` safe to store and show: undecodable bytes as ``\\xNN``, NUL as ``\\x00``."""
    return (
        text.encode("utf-8", "surrogateescape")
        .decode("utf-8", "backslashreplace")
        .replace("\x00", "\\x00")
    )
