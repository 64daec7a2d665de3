"""Gathering what steps read, for a whole claimed batch at once (a few set-based queries).

Which facts a journey needs is worked out once per journey version (:class:`Needs`): segment
conditions anywhere in it, event conditions or waits, caps. Endpoints are always loaded.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, Connection, Text, and_, cast, or_, select

from renraku.domain.endpoints import Endpoint
from renraku.domain.journeys import limits
from renraku.domain.journeys.conditions import segment_key, simple_conditions
from renraku.domain.journeys.model import Event, Facts, Journey, Participant, SendFact
from renraku.domain.timefmt import iso
from renraku.engine.membership import SegmentCache
from renraku.store import sends as send_store
from renraku.store.bulk import one_of
from renraku.store.schema import endpoints, events


@dataclass(frozen=True)
class Needs:
    segment_keys: tuple[str, ...]
    user_events: bool
    caps: bool


def needs_of(journey: Journey, frequency_caps: Mapping[str, int]) -> Needs:
    keys: list[str] = []
    user_events = False
    conds: list[Mapping[str, Any]] = []
    for act in journey.activities.values():
        if act.kind == "ConditionalSplit":
            conds += simple_conditions(act.spec.get("Condition"))
        elif act.kind == "MultiCondition":
            conds += [b.get("Condition") or {} for b in act.spec.get("Branches") or []]
        elif act.kind == "WaitForEvent":
            user_events = True
    conds += simple_conditions(journey.exit_criteria)
    for c in conds:
        key = segment_key(c)
        if key is not None and key not in keys:
            keys.append(key)
        if "EventCondition" in c:
            user_events = True
    lim = journey.limits
    caps = bool(
        lim.get("DailyCap") or lim.get("TotalCap") or lim.get("TimeframeCap") or frequency_caps
    )
    return Needs(tuple(keys), user_events, caps)


class LazyJson(Mapping[str, Any]):
    """A JSON object decoded on first use: most endpoint columns are never read by a step."""

    __slots__ = ("_raw", "_value")

    def __init__(self, raw: str | None) -> None:
        self._raw = raw
        self._value: dict[str, Any] | None = None

    def _get(self) -> dict[str, Any]:
        if self._value is None:
            self._value = dict(json.loads(self._raw)) if self._raw else {}
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


# Most endpoints have no demographic, location, metrics or user attributes: one shared empty
# mapping for all of them instead of an object per column and row.
_EMPTY: Mapping[str, Any] = MappingProxyType({})


_JSON_COLUMNS = ("attributes", "user_attributes", "demographic", "location", "metrics")
_ENDPOINT_COLUMNS = (
    "app_id",
    "id",
    "channel_type",
    "address",
    "user_id",
    *_JSON_COLUMNS,
    "opt_out",
    "endpoint_status",
    "effective_date",
    "creation_date",
    "cohort_id",
    "request_id",
)


def _endpoints_for(
    conn: Connection, app_id: str, user_ids: Sequence[str], lone: Sequence[str]
) -> dict[str, list[Endpoint]]:
    """Endpoints by participant key (JSON columns read as text and decoded when used)."""
    out: dict[str, list[Endpoint]] = defaultdict(list)
    conds: list[ColumnElement[bool]] = []
    if user_ids:
        conds.append(one_of(conn, endpoints.c.user_id, user_ids))
    if lone:
        conds.append(and_(one_of(conn, endpoints.c.id, lone), endpoints.c.user_id.is_(None)))
    if not conds:
        return out
    cols = [
        cast(endpoints.c[c], Text).label(c) if c in _JSON_COLUMNS else endpoints.c[c]
        for c in _ENDPOINT_COLUMNS
    ]
    rows = conn.execute(
        select(*cols)
        .where(and_(endpoints.c.app_id == app_id, or_(*conds)))
        .order_by(endpoints.c.id)
    ).all()
    # Endpoints of a batch mostly share the same few JSON texts (one attribute set for most
    # users): one decoded mapping per distinct text, shared read-only.
    seen: dict[str, Mapping[str, Any]] = {}

    def lazy(raw: str | None) -> Mapping[str, Any]:
        if not raw or raw == "{}":
            return _EMPTY
        value = seen.get(raw)
        if value is None:
            value = seen[raw] = LazyJson(raw)
        return value

    for a, i, ch, addr, uid, at, ua, dem, loc, met, opt, st, eff, cre, coh, req in rows:
        ep = Endpoint(
            a, i, ch, addr, uid, lazy(at), lazy(ua), lazy(dem), lazy(loc), lazy(met),
            opt, st, eff, cre, coh, req,
        )  # fmt: skip
        out[f"u:{uid}" if uid else f"e:{i}"].append(ep)
    return out


def _events_for(
    conn: Connection,
    app_id: str,
    keys: Sequence[str],
    user_ids: Sequence[str],
    lone: Sequence[str],
    since: str | None,
    owner_of: Mapping[str, str],
) -> dict[str, list[Event]]:
    """Events by participant key: those about the given send keys, and (with ``since``) every
    event of the given users since then. ``owner_of`` gives the participant of send keys already
    known (those the batch's participants hold); others are looked up in the ledger."""
    by_key: dict[str, list[Event]] = defaultdict(list)
    rows: list[Any] = []
    if keys:
        rows += conn.execute(select(events).where(one_of(conn, events.c.send_key, keys))).all()
    if since is not None and (user_ids or lone):
        conds: list[ColumnElement[bool]] = []
        if user_ids:
            conds.append(one_of(conn, events.c.user_id, user_ids))
        if lone:
            conds.append(one_of(conn, events.c.endpoint_id, lone))
        rows += conn.execute(
            select(events).where(
                and_(events.c.app_id == app_id, events.c.occurred_at >= since, or_(*conds))
            )
        ).all()
    seen: set[int] = set()
    missing = [r.send_key for r in rows if r.send_key and not r.activity_id]
    activity_of = send_store.activities_of(conn, list(set(missing)))
    owner_of = {
        **owner_of,
        **_owners(conn, [r.send_key for r in rows if r.send_key and r.send_key not in owner_of]),
    }
    for r in rows:
        if r.seq in seen:
            continue
        seen.add(r.seq)
        event = Event(
            kind=r.kind,
            occurred_at=r.occurred_at,
            send_key=r.send_key,
            endpoint_id=r.endpoint_id,
            data=r.data or {},
            activity_id=r.activity_id or activity_of.get(r.send_key or ""),
        )
        owner = owner_of.get(r.send_key or "")
        if owner is None:
            owner = f"u:{r.user_id}" if r.user_id else f"e:{r.endpoint_id}"
        by_key[owner].append(event)
    return by_key


class _Membership(Mapping[str, bool]):
    """``Facts.in_segment`` of one participant: imported segments answered for the whole batch
    in one query, dimensional ones evaluated on the participant's endpoints when a step first
    asks (most steps, e.g. sends and waits, never do)."""

    __slots__ = ("_cache", "_endpoints", "_keys", "_known", "_now")

    def __init__(
        self,
        known: Mapping[str, bool],
        keys: Sequence[str],
        cache: SegmentCache,
        endpoints: Sequence[Endpoint],
        now: datetime,
    ) -> None:
        self._known = dict(known)
        self._keys = keys
        self._cache = cache
        self._endpoints = endpoints
        self._now = now

    def __getitem__(self, key: str) -> bool:
        if key not in self._known:
            if key not in self._keys:
                raise KeyError(key)
            inside = self._cache.members(key, self._endpoints, self._now)
            self._known[key] = any(e.id in inside for e in self._endpoints)
        return self._known[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def _owners(conn: Connection, keys: Sequence[str]) -> dict[str, str]:
    if not keys:
        return {}
    rows = conn.execute(
        select(send_store.sends.c.key, send_store.sends.c.pkey).where(
            one_of(conn, send_store.sends.c.key, set(keys))
        )
    )
    return {r.key: r.pkey for r in rows}


def gather(
    conn: Connection,
    app_id: str,
    batch: Sequence[tuple[Participant, Journey]],
    now: datetime,
    frequency_caps: Mapping[str, int],
) -> dict[str, Facts]:
    """Facts for each participant of one application, by participant key."""
    users = sorted({p.user_id for p, _ in batch if p.user_id})
    lone = sorted({p.pkey[2:] for p, _ in batch if not p.user_id})
    eps = _endpoints_for(conn, app_id, users, lone)
    versions = {j.id + f"/{j.version}": j for _, j in batch}
    needs = {key: needs_of(j, frequency_caps) for key, j in versions.items()}
    want_user_events = [p for p, j in batch if needs[j.id + f"/{j.version}"].user_events]
    since = min((p.entered_at for p in want_user_events), default=None)
    held = {k: p.pkey for p, _ in batch for k in (p.data.get("keys") or [])}
    keys = list(held)
    evs = _events_for(
        conn,
        app_id,
        keys,
        sorted({p.user_id for p in want_user_events if p.user_id}),
        sorted({p.pkey[2:] for p in want_user_events if not p.user_id}),
        since,
        held,
    )
    in_segment: dict[str, dict[str, bool]] = defaultdict(dict)
    cache = SegmentCache(conn, app_id)
    seg_keys = {k for n in needs.values() for k in n.segment_keys}
    for key in seg_keys:
        if cache.definition(key)[0] != "IMPORT":
            continue  # evaluated on the endpoints when a step asks (_Membership)
        who = [p for p, j in batch if key in needs[j.id + f"/{j.version}"].segment_keys]
        pool = [e for p in who for e in eps.get(p.pkey, [])]
        inside = cache.members(key, pool, now)
        for p in who:
            in_segment[p.pkey][key] = any(e.id in inside for e in eps.get(p.pkey, []))
    sent: dict[str, list[SendFact]] = defaultdict(list)
    capped = [(p, j) for p, j in batch if needs[j.id + f"/{j.version}"].caps]
    if capped:
        back = max(limits.lookback(j, now) for _, j in capped)
        for r in send_store.recent_for(
            conn,
            app_id,
            sorted({p.user_id for p, _ in capped if p.user_id}),
            sorted({p.pkey[2:] for p, _ in capped if not p.user_id}),
            iso(now - back),
        ):
            sent[r.pkey if r.user_id is None else f"u:{r.user_id}"].append(
                SendFact(r.journey_id, r.endpoint_id, r.channel, r.created_at)
            )
    return {
        p.pkey: Facts(
            endpoints=tuple(eps.get(p.pkey, ())),
            events=tuple(evs.get(p.pkey, ())),
            in_segment=_Membership(
                in_segment.get(p.pkey, {}),
                needs[j.id + f"/{j.version}"].segment_keys,
                cache,
                tuple(eps.get(p.pkey, ())),
                now,
            ),
            sends=tuple(sent.get(p.pkey, ())),
            frequency_caps=frequency_caps,
        )
        for p, j in batch
    }
