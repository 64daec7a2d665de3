"""The composition root: ``build_app(settings)`` wires the store, the clock and (later) channels.

Entry points (CLI, API, worker) build one App and call its use cases; nothing is created at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from renraku.channels.base import Channel
from renraku.channels.registry import build_channels
from renraku.domain.timefmt import iso
from renraku.settings import Settings
from renraku.store import Store


class Clock(Protocol):
    """Where components read the time; tests and simulations inject their own."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class App:
    """Everything a use case needs."""

    settings: Settings
    store: Store
    clock: Clock
    channels: dict[str, Channel] = field(default_factory=dict)

    def now_iso(self) -> str:
        return iso(self.clock.now())

    def close(self) -> None:
        """Close every channel that holds resources (connections, pools), then the store."""
        closed: set[int] = set()
        for channel in self.channels.values():
            close = getattr(channel, "close", None)
            if callable(close) and id(channel) not in closed:
                closed.add(id(channel))
                close()
        self.store.close()


def build_app(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> App:
    """Open the store named in ``settings`` (applying migrations) and wire the rest."""
    store = Store.open(settings.db, migrate_schema=migrate)
    if clock is None and settings.clock.mode != "real":
        from renraku.engine.clock import build_clock

        clock = build_clock(settings.clock, store)
    from renraku.channels import buckets

    buckets.use(store, settings.redis_url)
    app = App(
        settings=settings,
        store=store,
        clock=clock or SystemClock(),
        channels=build_channels(settings, store=store),
    )
    for channel in app.channels.values():
        bind = getattr(channel, "bind", None)  # transports that need the App (voice: clock, flows)
        if callable(bind):
            bind(app)
    return app
