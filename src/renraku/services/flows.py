"""Contact-flow use cases: validate, store (each save a new version), show, list, load to run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from renraku.app import App
from renraku.domain.flows import Flow, parse_flow
from renraku.domain.flows.model import action_types, unreachable
from renraku.errors import InvalidInput, Problem
from renraku.store import flows as flow_store


def validate(data: Any, *, source: str = "flow") -> dict[str, Any]:
    """Check ``data`` without storing it: a summary, or InvalidInput naming every problem."""
    flow = parse_flow(data, source=source)
    stray = unreachable(flow)
    return {
        "Valid": True,
        "StartAction": flow.start_action,
        "Actions": len(flow.actions),
        "ActionTypes": action_types(flow),
        "Warnings": [f"Actions[{a}]: no path from StartAction reaches it" for a in stray],
    }


def default_name(data: Any, fallback: str) -> str:
    meta = data.get("Metadata") if isinstance(data, Mapping) else None
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return str(name) if isinstance(name, str) and name.strip() else fallback


def create(
    app: App,
    app_id: str,
    data: Any,
    *,
    name: str,
    description: str | None = None,
    source: str = "flow",
) -> dict[str, Any]:
    """Validate ``data`` whole and store it as flow ``name`` (a new version if the name exists)."""
    parse_flow(data, source=source)
    if not name.strip():
        raise InvalidInput([Problem("name", "a flow needs a name")], subject=source)
    with app.store.begin() as conn:
        return flow_store.save(
            conn, app_id, name.strip(), data, now=app.now_iso(), description=description
        )


def show(app: App, app_id: str, key: str, *, version: int | None = None) -> dict[str, Any]:
    """A flow's summary, its versions and the content of one version (the newest by default)."""
    with app.store.connect() as conn:
        summary = flow_store.get(conn, app_id, key)
        chosen = version or int(summary["Version"])
        return {
            **summary,
            "Versions": flow_store.versions(conn, app_id, summary["Id"]),
            "ShownVersion": chosen,
            "Content": flow_store.content(conn, app_id, summary["Id"], chosen),
        }


def list_all(app: App, app_id: str) -> list[dict[str, Any]]:
    with app.store.connect() as conn:
        return flow_store.list_flows(conn, app_id)


# Parsed flows by (application, flow id, version): a stored version never changes, so every call
# after the first skips reading and validating the flow again.
_PARSED: dict[tuple[str, str, int], Flow] = {}
_PARSED_MAX = 256


def load(conn: Connection, app_id: str, key: str) -> tuple[dict[str, Any], Flow]:
    """The newest version of flow ``key`` (id, name or ARN), parsed; NotFound if there is none."""
    summary = flow_store.get(conn, app_id, key)
    cache_key = (app_id, str(summary["Id"]), int(summary["Version"]))
    flow = _PARSED.get(cache_key)
    if flow is None:
        data = flow_store.content(conn, app_id, summary["Id"], int(summary["Version"]))
        flow = parse_flow(data, source=f"flow {summary['Name']}")
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[cache_key] = flow
    return summary, flow
