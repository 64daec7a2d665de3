"""Pinpoint journeys: create, read, update, state changes, list and execution metrics."""

from __future__ import annotations

from renraku.api.aws.pinpoint.calls import Call, Payload, operation
from renraku.api.aws.pinpoint.paging import paginate, with_next
from renraku.errors import InvalidInput, Problem
from renraku.services import journeys as journey_service

STATES = ("ACTIVE", "PAUSED", "CANCELLED")


def _journey_id(call: Call) -> str:
    return str(call.params["JourneyId"])


@operation("CreateJourney")
def create_journey(call: Call) -> Payload:
    request = call.body("WriteJourneyRequest")
    return journey_service.create(call.app, call.app_id, request)


@operation("GetJourney")
def get_journey(call: Call) -> Payload:
    return journey_service.show(call.app, call.app_id, _journey_id(call))


@operation("UpdateJourney")
def update_journey(call: Call) -> Payload:
    return journey_service.update(
        call.app, call.app_id, _journey_id(call), call.body("WriteJourneyRequest")
    )


@operation("UpdateJourneyState")
def update_journey_state(call: Call) -> Payload:
    state = call.body("JourneyStateRequest").get("State")
    if state not in STATES:
        raise InvalidInput(
            [Problem("JourneyStateRequest.State", f"{state!r}: use one of {', '.join(STATES)}")]
        )
    return journey_service.set_state(call.app, call.app_id, _journey_id(call), str(state))


@operation("ListJourneys")
def list_journeys(call: Call) -> Payload:
    items = journey_service.list_journeys(call.app, call.app_id)
    page, token = paginate(items, call.params.get("PageSize"), call.params.get("Token"))
    return with_next({"Item": page}, token)


@operation("GetJourneyExecutionMetrics")
def get_journey_execution_metrics(call: Call) -> Payload:
    return journey_service.metrics(call.app, call.app_id, _journey_id(call))


@operation("GetJourneyExecutionActivityMetrics")
def get_journey_execution_activity_metrics(call: Call) -> Payload:
    return journey_service.activity_metrics(
        call.app, call.app_id, _journey_id(call), str(call.params["JourneyActivityId"])
    )


@operation("DeleteJourney")
def delete_journey(call: Call) -> Payload:
    return journey_service.delete(call.app, call.app_id, _journey_id(call))
