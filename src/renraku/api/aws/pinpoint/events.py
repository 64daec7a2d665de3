"""Pinpoint PutEvents: application events recorded and acted on by journeys."""

from __future__ import annotations

from typing import Any

from renraku.api.aws.pinpoint.calls import Call, Payload, operation
from renraku.services import events as event_service


def events_results(outcome: dict[str, Any]) -> Payload:
    """Pinpoint's ``EventsResponse`` for what :func:`event_service.put_events` answered."""
    results: dict[str, dict[str, Any]] = {}
    for where, result in (outcome.get("Results") or {}).items():
        endpoint_id, _, event_id = str(where).partition("/")
        item = results.setdefault(
            endpoint_id,
            {
                "EndpointItemResponse": {"StatusCode": 202, "Message": "Accepted"},
                "EventsItemResponse": {},
            },
        )
        item["EventsItemResponse"][event_id] = {
            "StatusCode": int(result.get("StatusCode", 202)),
            "Message": str(result.get("Message", "")),
        }
        if int(result.get("StatusCode", 202)) >= 400:
            item["EndpointItemResponse"] = {
                "StatusCode": int(result["StatusCode"]),
                "Message": str(result.get("Message", "")),
            }
    return {"Results": results}


@operation("PutEvents")
def put_events(call: Call) -> Payload:
    """PutEvents alone (the server groups concurrent calls, see the router)."""
    return events_results(
        event_service.put_events(call.app, call.app_id, call.body("EventsRequest"))
    )
