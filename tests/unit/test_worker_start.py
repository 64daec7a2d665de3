"""A worker started while its database is briefly unreachable waits for it; one started with
errors that waiting cannot cure fails at once."""

from __future__ import annotations

from typing import Any

import pytest

from renraku.cli.worker import open_patiently
from renraku.errors import StoreError


class Flaky:
    """Fails with ``errors`` in turn, then returns ``result``."""

    def __init__(self, errors: list[Exception], result: Any) -> None:
        self.errors = list(errors)
        self.result = result
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.result


def test_transient_failures_are_waited_out_with_growing_pauses() -> None:
    pauses: list[float] = []
    opener = Flaky(
        [
            StoreError("cannot open database: server closed the connection unexpectedly"),
            StoreError("cannot open database: the database system is starting up"),
            StoreError("cannot open database: connection refused"),
        ],
        result="app",
    )
    assert open_patiently(opener, within=60, sleep=pauses.append) == "app"
    assert opener.calls == 4
    assert pauses == [0.2, 0.4, 0.8]


@pytest.mark.parametrize(
    "message",
    [
        'password authentication failed for user "renraku"',
        'database "renraku" does not exist',
        "unable to open database file",
    ],
)
def test_errors_waiting_cannot_cure_are_raised_at_once(message: str) -> None:
    pauses: list[float] = []
    opener = Flaky([StoreError(f"cannot open database: {message}")], result="app")
    with pytest.raises(StoreError, match=message.split()[0]):
        open_patiently(opener, within=60, sleep=pauses.append)
    assert opener.calls == 1
    assert pauses == []


def test_a_database_that_stays_away_fails_after_the_deadline() -> None:
    pauses: list[float] = []
    opener = Flaky([StoreError("connection refused")] * 1000, result="app")
    with pytest.raises(StoreError, match="connection refused"):
        open_patiently(opener, within=0.0, sleep=pauses.append)
    assert opener.calls == 1
