"""Journey clocks: real, accelerated and virtual, chosen by ``[clock] mode``.

- ``real``: the wall clock.
- ``accelerated``: journey time runs ``time_scale`` times faster than the wall clock (3600: an
  hour per second) from an anchor kept in the database, so every process agrees.
- ``virtual``: journey time is a value in the database that only moves when told to
  (``renraku clock advance``, or ``renraku worker --run-for`` which jumps from one due item to the
  next like a discrete-event simulation). Tests use it: a week of journey runs in seconds.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from renraku.domain.timefmt import iso, parse_iso
from renraku.errors import Conflict
from renraku.settings import ClockSettings
from renraku.store import Store
from renraku.store import clock as clock_store


class RealClock:
    """The wall clock, in UTC."""

    mode = "real"

    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """Time kept in the database; it moves only forward, and only when told."""

    mode = "virtual"

    def __init__(self, store: Store, start: str | None = None) -> None:
        self.store = store
        self._start = start

    def _initial(self) -> str:
        if self._start:
            return iso(parse_iso(self._start))
        return iso(datetime.now(UTC).replace(microsecond=0))

    def now(self) -> datetime:
        with self.store.connect() as conn:
            row = clock_store.read(conn, "virtual")
        if row is None:
            with self.store.begin() as conn:
                clock_store.init(conn, "virtual", self._initial())
            with self.store.connect() as conn:
                row = clock_store.read(conn, "virtual")
        return parse_iso(row.now)

    def set(self, moment: datetime) -> datetime:
        """Move to ``moment`` if it is later than the current time; returns the time after."""
        self.now()  # creates the row on first use
        target = iso(moment)
        with self.store.begin() as conn:
            conn.execute(
                update(clock_store.clock_state)
                .where(clock_store.clock_state.c.name == "virtual")
                .where(clock_store.clock_state.c.now < target)
                .values(now=target)
            )
        return self.now()

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise Conflict("the virtual clock only moves forward")
        return self.set(self.now() + delta)


class AcceleratedClock:
    """Journey time = anchor + (wall time since the anchor) x scale; the anchor is in the DB."""

    mode = "accelerated"

    def __init__(self, store: Store, scale: float) -> None:
        self.store = store
        self.scale = scale
        self._anchor: tuple[float, datetime] | None = None

    def _load(self) -> tuple[float, datetime]:
        if self._anchor is None:
            with self.store.begin() as conn:
                clock_store.init(conn, "accelerated", iso(datetime.now(UTC)), {"wall": time.time()})
            with self.store.connect() as conn:
                row = clock_store.read(conn, "accelerated")
            self._anchor = (float(row.data["wall"]), parse_iso(row.now))
        return self._anchor

    def now(self) -> datetime:
        wall, start = self._load()
        return start + timedelta(seconds=(time.time() - wall) * self.scale)


JourneyClock = RealClock | VirtualClock | AcceleratedClock


def build_clock(settings: ClockSettings, store: Store) -> JourneyClock:
    """The clock ``settings`` select, over ``store``."""
    if settings.mode == "virtual":
        return VirtualClock(store, settings.virtual_start)
    if settings.mode == "accelerated":
        return AcceleratedClock(store, settings.time_scale)
    return RealClock()
