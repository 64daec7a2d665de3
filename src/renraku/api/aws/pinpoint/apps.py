"""Pinpoint operations on applications: CreateApp, GetApps, GetApp, DeleteApp."""

from __future__ import annotations

from renraku.api.aws.pinpoint.calls import Call, Payload, operation
from renraku.api.aws.pinpoint.paging import paginate, with_next
from renraku.store import apps as app_store


@operation("CreateApp")
def create_app(call: Call) -> Payload:
    call.principal.require_admin("create applications")
    request = call.body("CreateApplicationRequest")
    with call.app.store.begin() as conn:
        return app_store.create_app(
            conn, str(request["Name"]), now=call.app.now_iso(), tags=request.get("tags") or {}
        )


@operation("GetApps")
def get_apps(call: Call) -> Payload:
    with call.app.store.connect() as conn:
        items = [a for a in app_store.list_apps(conn) if call.principal.may_access(a["Id"])]
    page, token = paginate(items, call.params.get("PageSize"), call.params.get("Token"))
    return with_next({"Item": page}, token)


@operation("GetApp")
def get_app(call: Call) -> Payload:
    with call.app.store.connect() as conn:
        return app_store.get_app(conn, call.app_id)


@operation("DeleteApp")
def delete_app(call: Call) -> Payload:
    with call.app.store.begin() as conn:
        return app_store.delete_app(conn, call.app_id)
