"""Journey clocks: the virtual clock lives in the database; the accelerated one runs faster."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from renraku.app import build_app
from renraku.engine.clock import AcceleratedClock, VirtualClock
from renraku.errors import Conflict
from renraku.settings import ClockSettings, Settings


def test_the_virtual_clock_is_shared_through_the_database_and_only_moves_forward(
    db_url: str,
) -> None:
    settings = Settings(
        db=db_url, clock=ClockSettings(mode="virtual", virtual_start="2026-01-01T00:00:00Z")
    )
    one, two = build_app(settings), build_app(settings)
    try:
        assert isinstance(one.clock, VirtualClock)
        assert isinstance(two.clock, VirtualClock)
        one.clock.advance(timedelta(hours=5))
        assert two.now_iso() == "2026-01-01T05:00:00.000Z"
        two.clock.set(one.clock.now() - timedelta(hours=1))  # an earlier time is ignored
        assert one.now_iso() == "2026-01-01T05:00:00.000Z"
        with pytest.raises(Conflict):
            one.clock.advance(timedelta(seconds=-1))
    finally:
        one.close()
        two.close()


def test_the_accelerated_clock_runs_time_scale_times_faster_than_the_wall(sqlite_url: str) -> None:
    app = build_app(
        Settings(db=sqlite_url, clock=ClockSettings(mode="accelerated", time_scale=3600))
    )
    try:
        assert isinstance(app.clock, AcceleratedClock)
        before = app.clock.now()
        time.sleep(0.2)
        passed = app.clock.now() - before
        assert timedelta(minutes=11) < passed < timedelta(minutes=60)
    finally:
        app.close()
