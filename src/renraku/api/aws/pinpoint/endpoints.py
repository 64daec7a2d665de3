"""Pinpoint operations on endpoints and users."""

from __future__ import annotations

from renraku.api.aws.pinpoint.calls import Call, Payload, operation
from renraku.services import endpoint_batch
from renraku.services import endpoints as endpoint_service
from renraku.services.endpoints import EndpointUpdate
from renraku.store import endpoints as endpoint_store


def update_request(call: Call) -> EndpointUpdate:
    """The endpoint update an UpdateEndpoint call asks for (written in groups by the router)."""
    return EndpointUpdate(call.app_id, str(call.params["EndpointId"]), call.body("EndpointRequest"))


@operation("UpdateEndpoint")
def update_endpoint(call: Call) -> Payload:
    request = update_request(call)
    endpoint_service.update_endpoint(call.app, request.app_id, request.endpoint_id, request.request)
    return call.accepted()


@operation("UpdateEndpointsBatch")
def update_endpoints_batch(call: Call) -> Payload:
    items = call.body("EndpointBatchRequest").get("Item") or []
    endpoint_batch.update_endpoints_batch(
        call.app, call.app_id, items, path="EndpointBatchRequest.Item"
    )
    return call.accepted()


@operation("GetEndpoint")
def get_endpoint(call: Call) -> Payload:
    ep = endpoint_service.get_endpoint(call.app, call.app_id, str(call.params["EndpointId"]))
    return ep.to_pinpoint()


@operation("DeleteEndpoint")
def delete_endpoint(call: Call) -> Payload:
    with call.app.store.begin() as conn:
        ep = endpoint_store.delete_one(conn, call.app_id, str(call.params["EndpointId"]))
    return ep.to_pinpoint()


@operation("GetUserEndpoints")
def get_user_endpoints(call: Call) -> Payload:
    eps = endpoint_service.user_endpoints(call.app, call.app_id, str(call.params["UserId"]))
    return {"Item": [ep.to_pinpoint() for ep in eps]}


@operation("DeleteUserEndpoints")
def delete_user_endpoints(call: Call) -> Payload:
    with call.app.store.begin() as conn:
        eps = endpoint_store.delete_user(conn, call.app_id, str(call.params["UserId"]))
    return {"Item": [ep.to_pinpoint() for ep in eps]}
