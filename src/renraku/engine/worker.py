"""The worker loop: claim due participants, step them, record and carry out their commands.

One :meth:`Worker.tick`: (1) due segment entries; (2) one claimed batch: gather facts, run the
pure :func:`advance`, apply policies around the sends (pacing), write participants, ledger rows,
events and attribute changes in the claiming transaction; (3) hand the recorded sends to their
channels and settle them; (4) reconcile sends whose lease passed.
"""

from __future__ import annotations

import bisect
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection

from renraku.channels import buckets as shared_buckets
from renraku.domain.journeys.model import (
    Emit,
    Journey,
    Participant,
    Send,
    SetAttributes,
    build_journey,
)
from renraku.domain.journeys.step import advance
from renraku.domain.timefmt import iso, parse_iso
from renraku.engine import entry, ledger
from renraku.engine.clock import VirtualClock
from renraku.engine.facts import gather
from renraku.store import journey_events, retry_transient
from renraku.store import journeys as journey_store
from renraku.store import participants as participant_store
from renraku.store import sends as send_store
from renraku.store.bulk import update_by_key
from renraku.store.schema import endpoints as endpoint_table

if TYPE_CHECKING:
    from renraku.app import App

log = logging.getLogger("renraku.worker")
T = TypeVar("T")
# How long a worker keeps retrying a database that fails (connections cut, the server
# restarting, statement timeouts) before it gives up and exits non-zero.
DB_RETRY_SECONDS = 300.0


@dataclass
class Stats:
    """What a worker did: participant-steps, sends, and scheduling lateness samples (seconds)."""

    steps: int = 0
    claimed: int = 0
    sends: int = 0
    batches: int = 0
    db_errors: int = 0
    lateness: list[float] = field(default_factory=list)


@dataclass
class _Outcome:
    app_id: str
    before: Participant
    after: Participant
    commands: list[Any]
    journey: Journey
    endpoints: dict[str, Any]


class Worker:
    """Runs journeys for an App (see the module docstring)."""

    def __init__(self, app: App, *, batch_size: int | None = None) -> None:
        self.app = app
        self.cfg = app.settings.journeys
        self.batch_size = batch_size or self.cfg.batch_size
        self.stats = Stats()
        self._journeys: dict[tuple[str, str, int], Journey] = {}
        self._jumps: list[tuple[str, float]] = []  # (virtual time reached, wall time) in run_for
        self._stop: Callable[[], bool] = lambda: False

    def journey(self, conn: Connection, app_id: str, journey_id: str, version: int) -> Journey:
        key = (app_id, journey_id, version)
        if key not in self._journeys:
            definition = journey_store.version_definition(conn, app_id, journey_id, version)
            started = journey_store.get(conn, app_id, journey_id).creation_date
            self._journeys[key] = build_journey(
                app_id, journey_id, version, definition, started_at=started
            )
        return self._journeys[key]

    def _guarded(self, fn: Callable[[], T]) -> T:
        """Run ``fn``, retrying with backoff while the database fails transiently.

        A failed tick rolled back its transaction: its claims are free again, and sends it had
        already handed over are settled by reconciliation after their lease.
        """

        def note(exc: BaseException, pause: float) -> None:
            self.stats.db_errors += 1
            log.warning("database error, retrying in %.2f s: %s", pause, exc)

        return retry_transient(fn, within=DB_RETRY_SECONDS, max_delay=5.0, on_retry=note)

    # -- one tick ---------------------------------------------------------------------------

    def tick(self) -> int:
        """Do one round of work at the clock's current time; returns how much was done."""
        now = self.app.clock.now()
        with self.app.store.begin() as conn:
            work = entry.run_due_entries(conn, now)
        work += self._batch(now)
        work += ledger.reconcile(self.app, now)
        return work

    def _batch(self, now: datetime) -> int:
        now_s = iso(now)
        outgoing: list[ledger.Outgoing] = []
        with self.app.store.begin() as conn:
            claimed = participant_store.claim_due(conn, now_s, self.batch_size)
            if not claimed:
                return 0
            self._note_lateness(claimed, now)
            outcomes = self._step_all(conn, claimed, now)
            self._pace(conn, outcomes, now)
            outgoing = self._write(conn, outcomes, now)
        self.stats.claimed += len(claimed)
        self.stats.batches += 1
        self.stats.sends += len(outgoing)
        ledger.deliver(self.app, outgoing, now)
        return len(claimed)

    def _step_all(
        self, conn: Connection, claimed: list[tuple[str, Participant]], now: datetime
    ) -> list[_Outcome]:
        by_app: dict[str, list[Participant]] = defaultdict(list)
        for app_id, p in claimed:
            by_app[app_id].append(p)
        outcomes: list[_Outcome] = []
        for app_id, group in by_app.items():
            pairs = [(p, self.journey(conn, app_id, p.journey_id, p.version)) for p in group]
            facts = gather(conn, app_id, pairs, now, self.cfg.frequency_caps)
            for p, j in pairs:
                f = facts[p.pkey]
                after, commands, steps = advance(j, p, f, now)
                self.stats.steps += max(steps, 1)
                outcomes.append(
                    _Outcome(app_id, p, after, commands, j, {e.id: e for e in f.endpoints})
                )
        return outcomes

    def _pace(self, conn: Connection, outcomes: list[_Outcome], now: datetime) -> None:
        """MessagesPerSecond per journey and per-channel rates: sends beyond the shared token
        budget are put back, their participant due again when tokens will have refilled."""
        buckets: dict[str, float] = {}
        wants: dict[str, list[tuple[_Outcome, int]]] = defaultdict(list)
        for o in outcomes:
            sends = [c for c in o.commands if isinstance(c, Send)]
            if not sends:
                continue
            mps = o.journey.limits.get("MessagesPerSecond")
            if mps:
                key = f"journey:{o.app_id}:{o.journey.id}"
                buckets[key] = float(mps)
                wants[key].append((o, len(sends)))
            for channel in {s.channel for s in sends}:
                rate = self.cfg.channel_rates.get(channel)
                if rate:
                    key = f"channel:{channel}"
                    buckets[key] = float(rate)
                    wants[key].append((o, sum(1 for s in sends if s.channel == channel)))
        held: set[int] = set()
        at = now.timestamp()
        for key, rate in buckets.items():
            wanted = sum(n for _, n in wants[key])
            granted = shared_buckets.for_store(self.app.store).take_up_to(
                conn, key, wanted, rate=rate, burst=max(rate, 1.0), now=at
            )
            used = 0
            for o, n in wants[key]:
                if id(o) in held:
                    continue
                if used + n <= granted:
                    used += n
                    continue
                held.add(id(o))
                delay = math.ceil((used + n - granted) / rate) if rate else 1
                o.after = replace(o.before, wake_at=iso(now + timedelta(seconds=max(1, delay))))
                o.commands = [
                    Emit("send.paced", o.before.activity_id, {"Bucket": key, "Seconds": delay})
                ]

    def _write(
        self, conn: Connection, outcomes: list[_Outcome], now: datetime
    ) -> list[ledger.Outgoing]:
        now_s = iso(now)
        evs: list[tuple[Any, ...]] = []
        outgoing: list[ledger.Outgoing] = []
        touched: dict[tuple[str, str], Any] = {}
        for o in outcomes:
            p = o.after
            for c in o.commands:
                if isinstance(c, Emit):  # in journey_events.COLUMNS order
                    evs.append(
                        (
                            o.app_id,
                            now_s,
                            c.kind,
                            p.user_id,
                            c.endpoint_id or p.endpoint_id,
                            p.journey_id,
                            c.activity_id,
                            c.send_key,
                            dict(c.data),
                        )
                    )
                elif isinstance(c, Send):
                    outgoing.append(
                        ledger.Outgoing(
                            key=c.key,
                            app_id=o.app_id,
                            journey_id=p.journey_id,
                            pkey=p.pkey,
                            user_id=p.user_id,
                            activity_id=c.activity_id,
                            channel=c.channel,
                            endpoint=o.endpoints.get(c.endpoint_id),
                            endpoint_id=c.endpoint_id,
                            template=c.template,
                            config=dict(c.config),
                        )
                    )
                elif isinstance(c, SetAttributes):
                    ep = touched.get((o.app_id, c.endpoint_id)) or o.endpoints.get(c.endpoint_id)
                    if ep is not None:
                        merged = {**ep.attributes, **{k: list(v) for k, v in c.attributes.items()}}
                        touched[(o.app_id, c.endpoint_id)] = replace(
                            ep, attributes=merged, effective_date=now_s
                        )
        for o in outcomes:
            stuck = o.after == o.before and o.after.wake_at is not None and o.after.wake_at <= now_s
            if stuck:  # a step that neither moved nor waited: look again later, never spin
                o.after = replace(o.after, wake_at=iso(now + timedelta(minutes=1)))
        participant_store.save(conn, [(o.app_id, o.after) for o in outcomes if o.after != o.before])
        recorded = send_store.record(
            conn, ledger.ledger_rows(outgoing, now_s, time.time() + self.cfg.send_lease_seconds)
        )
        journey_events.append_tuples(conn, evs)
        if touched:  # only the changed columns: the rest of each row may have moved meanwhile
            update_by_key(
                conn,
                endpoint_table,
                ("app_id", "id"),
                ("attributes", "effective_date"),
                [
                    {
                        "app_id": ep.app_id,
                        "id": ep.id,
                        "attributes": dict(ep.attributes),
                        "effective_date": ep.effective_date,
                    }
                    for ep in touched.values()
                ],
                by_key_only=False,  # the attribute index trigger joins old and new rows
            )
        return [o for o in outgoing if o.key in recorded]

    def _note_lateness(self, claimed: list[tuple[str, Participant]], now: datetime) -> None:
        wall = time.time()
        for _, p in claimed:
            if not p.wake_at:
                continue
            if self._jumps:
                i = bisect.bisect_left(self._jumps, (p.wake_at, -1.0))
                reached = self._jumps[min(i, len(self._jumps) - 1)][1]
                self.stats.lateness.append(max(0.0, wall - reached))
            else:
                self.stats.lateness.append(max(0.0, (now - parse_iso(p.wake_at)).total_seconds()))

    # -- loops ------------------------------------------------------------------------------

    def _drain(self) -> int:
        done = 0
        while not self._stop():  # a stop request takes effect after the current batch
            n = self._guarded(self.tick)
            done += n
            if n == 0:
                return done
        return done

    def _open_sends_wait(self, deadline: float) -> bool:
        """Wait (wall clock) for open sends of dead workers to become reclaimable; False if none."""
        with self.app.store.connect() as conn:
            count, lease = send_store.open_count(conn)
        if count == 0:
            return False
        pause = 0.05 if lease is None else min(max(lease - time.time(), 0.0) + 0.01, 1.0)
        if time.time() + pause > deadline:
            return False
        time.sleep(pause)
        return True

    def run_until_idle(self, *, max_seconds: float = 3600.0) -> Stats:
        """Work at the current time until nothing is due and no send is open."""
        deadline = time.time() + max_seconds
        while time.time() < deadline and not self._stop():
            self._drain()
            if not self._guarded(lambda: self._open_sends_wait(deadline)):
                break
        self._guarded(self._complete_journeys)
        return self.stats

    def _next_due(self) -> str | None:
        """The earliest due time, as far as committed work shows.

        The entry time is read before the participants' wake times, on purpose: a segment entry
        that another worker is running (its journey row locked, so this worker skipped it)
        commits its participants and its cleared ``next_entry_at`` at once. Read in the other
        order, with that commit falling between the two statements, neither shows the new
        participants (not yet committed) nor the entry (already done), and ``run_for`` would
        jump the shared clock to its end past everyone admitted. In this order either the entry
        still shows as due or its participants are visible to the second read.
        """
        with self.app.store.connect() as conn:
            entry_at = journey_store.next_entry_time(conn)
            wake_at = participant_store.next_wake(conn)
        times = [t for t in (entry_at, wake_at) if t]
        return min(times) if times else None

    def run_for(self, duration: timedelta, *, stop: Callable[[], bool] | None = None) -> Stats:
        """Run ``duration`` of journey time. On the virtual clock, jump from one due time to the
        next, doing all work due at each (a discrete-event simulation); otherwise work as time passes."""
        clock = self.app.clock
        end = clock.now() + duration
        if stop is not None:
            self._stop = stop
        if isinstance(clock, VirtualClock):
            self._jumps.append((iso(clock.now()), time.time()))
            while not self._stop():
                self.run_until_idle()
                if self._stop():  # never move the clock past work left undone
                    break
                nxt = self._guarded(self._next_due)
                now = self._guarded(clock.now)
                if nxt is None or parse_iso(nxt) > end:
                    self._guarded(lambda: clock.set(end))
                    break
                target = max(parse_iso(nxt), now)
                self._guarded(lambda t=target: clock.set(t))  # type: ignore[misc]
                self._jumps.append((iso(target), time.time()))
            self.run_until_idle()
            self._guarded(self._complete_journeys)
            return self.stats
        while self._guarded(clock.now) < end and not (stop and stop()):
            if self._guarded(self.tick) == 0:
                time.sleep(self.cfg.idle_sleep_seconds)
        return self.stats

    def run_forever(self, stop: Callable[[], bool]) -> Stats:
        self._stop = stop
        while not stop():
            if self._guarded(self.tick) == 0:
                self._guarded(self._complete_journeys)
                time.sleep(self.cfg.idle_sleep_seconds)
        return self.stats

    def _complete_journeys(self) -> None:
        """Active journeys that admit no one any more and have no one left inside are COMPLETED."""
        with self.app.store.begin() as conn:
            for app_row in {(r.app_id, r.id) for r in self._active(conn)}:
                row = journey_store.get(conn, *app_row)
                sc = (row.definition or {}).get("StartCondition") or {}
                if row.next_entry_at or sc.get("EventStartCondition") or not row.entry_runs:
                    continue
                if entry.refreshes_on_update(row.definition or {}, self.app.clock.now()):
                    continue
                counts = participant_store.counts(conn, *app_row)
                if not counts.get("ACTIVE") and not counts.get("PAUSED"):
                    journey_store.set_state(
                        conn, row.app_id, row.id, "COMPLETED", now=self.app.now_iso()
                    )

    @staticmethod
    def _active(conn: Connection) -> list[Any]:
        from sqlalchemy import select

        return list(
            conn.execute(
                select(journey_store.journeys).where(journey_store.journeys.c.state == "ACTIVE")
            )
        )
