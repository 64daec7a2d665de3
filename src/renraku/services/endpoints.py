"""Endpoint use cases: create or update one endpoint (Pinpoint's UpdateEndpoint), read users."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from renraku.app import App
from renraku.domain.endpoint_rules import validate_endpoint_request
from renraku.domain.endpoints import Endpoint, apply_update, new_endpoint
from renraku.errors import InvalidInput, NotFound
from renraku.store import endpoints as endpoint_store


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
        creating = current is None
        clean, problems = validate_endpoint_request(
            request, path="EndpointRequest", default_region=region, creating=creating
        )
        if problems:
            raise InvalidInput(problems, subject="endpoint request")
        now = app.now_iso()
        updated = (
            new_endpoint(app_id, endpoint_id, clean, now=now)
            if current is None
            else apply_update(current, clean, now=now)
        )
        endpoint_store.upsert_many(conn, [updated])
    return updated


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
