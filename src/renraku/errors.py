"""renraku's exception tree.

Provider, driver and parser errors are translated at the adapter edge into these, so entry points
map one tree to exit codes and HTTP problems::

    RenrakuError
    +-- ConfigError              settings that cannot work (bad URL, unknown provider)
    +-- NotFound                 an application, endpoint, segment, job ... that does not exist
    +-- Conflict                 a name or id already taken, a state change not allowed
    +-- InvalidInput             user data rejected; carries every Problem found, each with its path
    |   +-- ImportRejected       a whole import source that cannot be read (no rows were written)
    +-- StoreError               the database failed in a way the caller cannot fix by changing input
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where (a dotted path, or file:line:column) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class RenrakuError(Exception):
    """Base of every error renraku raises on purpose."""


class ConfigError(RenrakuError):
    """Settings that cannot work."""


class NotFound(RenrakuError):
    """A named thing does not exist."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class Conflict(RenrakuError):
    """A name or id is already taken, or a change is not allowed in the current state."""


class InvalidInput(RenrakuError):
    """Input rejected; ``problems`` lists every problem found, each with its path."""

    def __init__(self, problems: Iterable[Problem] | str, *, subject: str = "input") -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.subject = subject
        lines = "; ".join(str(p) for p in self.problems)
        super().__init__(f"invalid {subject}: {lines}")


class ImportRejected(InvalidInput):
    """An import source that cannot be read at all; the store was left unchanged."""


class StoreError(RenrakuError):
    """The database failed (connection lost, schema missing) in a way input cannot fix."""
