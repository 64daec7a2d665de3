"""Native routes for applications, endpoints and users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from renraku.api.aws.pinpoint.paging import paginate, with_next
from renraku.api.native.deps import AppDep, Json, PrincipalDep, owned_app
from renraku.api.native.models import CreateApplication, EndpointBatch, EndpointRequest
from renraku.services import endpoint_batch
from renraku.services import endpoints as endpoint_service
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store

router = APIRouter(prefix="/api/v1")

PageSize = Annotated[str | None, Query(alias="page_size", description="Items per page (1-1000).")]
Token = Annotated[str | None, Query(description="NextToken from the previous page.")]


@router.get("/apps", tags=["applications"], summary="List the applications the key may use")
def list_apps(
    app: AppDep, principal: PrincipalDep, page_size: PageSize = None, token: Token = None
) -> Json:
    with app.store.connect() as conn:
        items = [a for a in app_store.list_apps(conn) if principal.may_access(a["Id"])]
    page, nxt = paginate(items, page_size, token)
    return with_next({"Item": page}, nxt)


@router.post(
    "/apps",
    tags=["applications"],
    status_code=status.HTTP_201_CREATED,
    summary="Create an application (administrator keys only)",
)
def create_app(app: AppDep, principal: PrincipalDep, body: CreateApplication) -> Json:
    principal.require_admin("create applications")
    with app.store.begin() as conn:
        return app_store.create_app(conn, body.Name, now=app.now_iso(), tags=body.tags)


@router.get("/apps/{app_id}", tags=["applications"], summary="Get an application")
def get_app(app: AppDep, principal: PrincipalDep, app_id: str) -> Json:
    return owned_app(app, principal, app_id)


@router.delete(
    "/apps/{app_id}", tags=["applications"], summary="Delete an application and its data"
)
def delete_app(app: AppDep, principal: PrincipalDep, app_id: str) -> Json:
    owned_app(app, principal, app_id)
    with app.store.begin() as conn:
        return app_store.delete_app(conn, app_id)


@router.get("/apps/{app_id}/endpoints/{endpoint_id}", tags=["endpoints"], summary="Get an endpoint")
def get_endpoint(app: AppDep, principal: PrincipalDep, app_id: str, endpoint_id: str) -> Json:
    owned_app(app, principal, app_id)
    return endpoint_service.get_endpoint(app, app_id, endpoint_id).to_pinpoint()


@router.put(
    "/apps/{app_id}/endpoints/{endpoint_id}",
    tags=["endpoints"],
    summary="Create or update an endpoint (Pinpoint's UpdateEndpoint rules); returns it",
)
def put_endpoint(
    app: AppDep, principal: PrincipalDep, app_id: str, endpoint_id: str, body: EndpointRequest
) -> Json:
    owned_app(app, principal, app_id)
    return endpoint_service.update_endpoint(app, app_id, endpoint_id, body.request()).to_pinpoint()


@router.put(
    "/apps/{app_id}/endpoints",
    tags=["endpoints"],
    summary="Create or update up to 100 endpoints at once (all or nothing)",
)
def put_endpoints(app: AppDep, principal: PrincipalDep, app_id: str, body: EndpointBatch) -> Json:
    owned_app(app, principal, app_id)
    items = [{"Id": item.Id, **item.request()} for item in body.Item]
    updated = endpoint_batch.update_endpoints_batch(app, app_id, items)
    return {"Item": [ep.to_pinpoint() for ep in updated]}


@router.delete(
    "/apps/{app_id}/endpoints/{endpoint_id}", tags=["endpoints"], summary="Delete an endpoint"
)
def delete_endpoint(app: AppDep, principal: PrincipalDep, app_id: str, endpoint_id: str) -> Json:
    owned_app(app, principal, app_id)
    with app.store.begin() as conn:
        return endpoint_store.delete_one(conn, app_id, endpoint_id).to_pinpoint()


@router.get("/apps/{app_id}/users/{user_id}", tags=["users"], summary="A user's endpoints")
def get_user(app: AppDep, principal: PrincipalDep, app_id: str, user_id: str) -> Json:
    owned_app(app, principal, app_id)
    eps = endpoint_service.user_endpoints(app, app_id, user_id)
    return {"Item": [ep.to_pinpoint() for ep in eps]}


@router.delete(
    "/apps/{app_id}/users/{user_id}", tags=["users"], summary="Delete a user's endpoints"
)
def delete_user(app: AppDep, principal: PrincipalDep, app_id: str, user_id: str) -> Json:
    owned_app(app, principal, app_id)
    with app.store.begin() as conn:
        eps = endpoint_store.delete_user(conn, app_id, user_id)
    return {"Item": [ep.to_pinpoint() for ep in eps]}
