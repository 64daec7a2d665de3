"""UpdateEndpointsBatch: create or update up to 100 endpoints in one transaction, all or nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from renraku.app import App
from renraku.domain.endpoint_rules import validate_endpoint_request
from renraku.domain.endpoints import Endpoint, apply_update, new_endpoint
from renraku.engine import entry
from renraku.errors import InvalidInput, Problem
from renraku.store import endpoints as endpoint_store

MAX_BATCH = 100


def update_endpoints_batch(
    app: App, app_id: str, items: Sequence[Mapping[str, Any]], *, path: str = "Item"
) -> list[Endpoint]:
    """Apply each item (an ``EndpointRequest`` plus its ``Id``) as UpdateEndpoint would.

    Every item is validated before anything is written; one bad item rejects the whole batch,
    with every problem named by its item index and field.
    """
    problems: list[Problem] = []
    if not items:
        problems.append(Problem(path, "must list at least one endpoint"))
    if len(items) > MAX_BATCH:
        problems.append(Problem(path, f"at most {MAX_BATCH} endpoints per batch, got {len(items)}"))
    if problems:
        raise InvalidInput(problems, subject="endpoint batch")
    region = app.settings.imports.default_region
    with app.store.begin() as conn:
        ids = [str(item.get("Id") or "") for item in items]
        current = {ep.id: ep for ep in endpoint_store.by_ids(conn, app_id, [i for i in ids if i])}
        now = app.now_iso()
        updated: dict[str, Endpoint] = {}
        for index, (endpoint_id, item) in enumerate(zip(ids, items, strict=True)):
            where = f"{path}[{index}]"
            if not endpoint_id:
                problems.append(Problem(f"{where}.Id", "required: the endpoint id"))
                continue
            request = {k: v for k, v in item.items() if k != "Id"}
            base = updated.get(endpoint_id) or current.get(endpoint_id)
            clean, found = validate_endpoint_request(
                request, path=where, default_region=region, creating=base is None
            )
            if found:
                problems.extend(found)
                continue
            updated[endpoint_id] = (
                new_endpoint(app_id, endpoint_id, clean, now=now)
                if base is None
                else apply_update(base, clean, now=now)
            )
        if problems:
            raise InvalidInput(problems, subject="endpoint batch")
        endpoint_store.upsert_many(conn, list(updated.values()))
        entry.segment_changed(conn, app_id, now)  # RefreshOnSegmentUpdate journeys
    return list(updated.values())
