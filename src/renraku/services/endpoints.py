"""Endpoint use cases: create or update endpoints (Pinpoint's UpdateEndpoint), read users."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from renraku.app import App
from renraku.domain.endpoint_rules import validate_endpoint_request
from renraku.domain.endpoints import Endpoint, apply_update, new_endpoint
from renraku.engine import entry
from renraku.errors import InvalidInput, NotFound
from renraku.store import endpoints as endpoint_store
from renraku.store.schema import endpoints


@dataclass(frozen=True, slots=True)
class EndpointUpdate:
    """One UpdateEndpoint: the application, the endpoint id and the ``EndpointRequest``."""

    app_id: str
    endpoint_id: str
    request: Mapping[str, Any]


def _updated(
    current: Endpoint | None, update: EndpointUpdate, region: str | None, now: str
) -> Endpoint:
    """``current`` (None: not there yet) with ``update`` applied; InvalidInput names each problem."""
    clean, problems = validate_endpoint_request(
        update.request, path="EndpointRequest", default_region=region, creating=current is None
    )
    if problems:
        raise InvalidInput(problems, subject="endpoint request")
    if current is None:
        return new_endpoint(update.app_id, update.endpoint_id, clean, now=now)
    return apply_update(current, clean, now=now)


def update_endpoint(
    app: App,
    app_id: str,
    endpoint_id: str,
    request: Mapping[str, Any],
    *,
    default_region: str | None = None,
) -> Endpoint:
    """Create the endpoint or apply ``request`` to it as a partial update (Pinpoint's rules).

    The request is validated whole before anything is written; every problem is reported by path.
    """
    region = default_region or app.settings.imports.default_region
    with app.store.begin() as conn:
        current = endpoint_store.find(conn, app_id, endpoint_id)
        updated = _updated(
            current, EndpointUpdate(app_id, endpoint_id, request), region, app.now_iso()
        )
        endpoint_store.upsert_many(conn, [updated])
        entry.segment_changed(conn, app_id, app.now_iso())  # RefreshOnSegmentUpdate
    return updated


def update_endpoints_together(
    app: App, updates: Sequence[EndpointUpdate]
) -> list[Endpoint | InvalidInput]:
    """Apply many independent UpdateEndpoint requests in one transaction (group commit).

    Each outcome is what :func:`update_endpoint` would have answered had the updates run one
    after another in this order (a later update of the same endpoint sees the earlier one): the
    endpoint written, or the InvalidInput that refused that update alone. Refused updates write
    nothing; the others commit together. If the transaction itself fails, the error is raised
    and nothing is written, so the caller can run the updates one by one.
    """
    region = app.settings.imports.default_region
    now = app.now_iso()
    wanted = _by_app([(update.app_id, update.endpoint_id) for update in updates])
    outcomes: list[Endpoint | InvalidInput] = []
    with app.store.begin() as conn:
        latest = {
            (app_id, ep.id): ep
            for app_id, ids in wanted.items()
            for ep in endpoint_store.by_ids(conn, app_id, ids)
        }
        written: dict[tuple[str, str], Endpoint] = {}
        for update in updates:
            key = (update.app_id, update.endpoint_id)
            try:
                updated = _updated(latest.get(key), update, region, now)
            except InvalidInput as exc:
                outcomes.append(exc)
                continue
            latest[key] = written[key] = updated
            outcomes.append(updated)
        # In key order, so that concurrent groups lock shared rows in one order (no deadlock).
        endpoint_store.upsert_many(conn, [written[key] for key in sorted(written)])
        for app_id in sorted({app_id for app_id, _ in written}):  # RefreshOnSegmentUpdate
            entry.segment_changed(conn, app_id, now)
    return outcomes


def get_endpoint(app: App, app_id: str, endpoint_id: str) -> Endpoint:
    with app.store.connect() as conn:
        return endpoint_store.get(conn, app_id, endpoint_id)


def user_endpoints(app: App, app_id: str, user_id: str) -> list[Endpoint]:
    """Every endpoint of ``user_id``; NotFound when there are none (as Pinpoint answers)."""
    with app.store.connect() as conn:
        eps = endpoint_store.by_user(conn, app_id, user_id)
    if not eps:
        raise NotFound("user", user_id)
    return eps


def endpoints_together(app: App, wanted: Sequence[tuple[str, str]]) -> list[Endpoint | NotFound]:
    """Many GetEndpoint reads (application id, endpoint id) in one query per application."""
    found: dict[tuple[str, str], Endpoint] = {}
    with app.store.connect() as conn:
        for app_id, ids in _by_app(wanted).items():
            found.update(((app_id, ep.id), ep) for ep in endpoint_store.by_ids(conn, app_id, ids))
    return [found.get(key) or NotFound("endpoint", key[1]) for key in wanted]


def users_endpoints_together(
    app: App, wanted: Sequence[tuple[str, str]]
) -> list[list[Endpoint] | NotFound]:
    """Many GetUserEndpoints reads (application id, user id) in one query per application."""
    found: dict[tuple[str, str | None], list[Endpoint]] = {}
    with app.store.connect() as conn:
        for app_id, users in _by_app(wanted).items():
            found.update(users_endpoints_in(conn, app_id, users))
    return [found.get(key) or NotFound("user", key[1]) for key in wanted]


def users_endpoints_in(
    conn: Connection, app_id: str, users: Iterable[str]
) -> dict[tuple[str, str | None], list[Endpoint]]:
    """The endpoints of each of ``users`` (those that have any), in one query, each user's in
    the order :func:`user_endpoints` gives."""
    found: dict[tuple[str, str | None], list[Endpoint]] = {}
    rows = conn.execute(
        select(endpoints)
        .where(endpoints.c.app_id == app_id, endpoints.c.user_id.in_(list(users)))
        .order_by(endpoints.c.user_id, endpoints.c.channel_type, endpoints.c.id)
    )
    for row in rows:
        ep = endpoint_store.from_row(row)
        found.setdefault((app_id, ep.user_id), []).append(ep)
    return found


def _by_app(wanted: Sequence[tuple[str, str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for app_id, item in wanted:
        out.setdefault(app_id, set()).add(item)
    return out
