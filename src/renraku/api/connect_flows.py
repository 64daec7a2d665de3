"""Contact-flow operations of the Connect-compatible API: CreateContactFlow, DescribeContactFlow,
ListContactFlows and UpdateContactFlowContent, over renraku's stored, versioned flows.

``Content`` is the flow-language JSON as a string, as Connect takes it; a flow renraku cannot run
is refused with ``InvalidContactFlowException`` listing every problem.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from renraku.api.auth import Principal
from renraku.domain.flows.interpreter import instance_arn
from renraku.domain.timefmt import parse_iso
from renraku.errors import InvalidInput, NotFound
from renraku.services import flows as flow_service

if TYPE_CHECKING:
    from renraku.api.connect import ConnectApi

FLOW_TYPE = "CONTACT_FLOW"


def _error(status: int, code: str, message: str, **extra: Any) -> Exception:
    from renraku.api.connect import ConnectError

    return ConnectError(status, code, message, extra)


def _content(params: Mapping[str, Any]) -> Any:
    text = params.get("Content")
    if not isinstance(text, str) or not text.strip():
        raise _error(400, "InvalidParameterException", "Content is required: the flow as JSON text")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"Content is not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
        raise _error(
            400, "InvalidContactFlowException", message, problems=[{"message": message}]
        ) from exc


def _invalid(exc: InvalidInput) -> Exception:
    problems = [{"message": str(p)} for p in exc.problems]
    return _error(
        400,
        "InvalidContactFlowException",
        "; ".join(p["message"] for p in problems),
        problems=problems,
    )


def _arn(app_id: str, flow_id: str) -> str:
    return f"{instance_arn(app_id)}/contact-flow/{flow_id}"


def _sha(content: Any) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def create_contact_flow(
    api: ConnectApi, principal: Principal | None, params: Mapping[str, Any]
) -> Mapping[str, Any]:
    app_id = api._app_id(principal, params)
    name = params.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise _error(400, "InvalidParameterException", "Name is required")
    if params.get("Type", FLOW_TYPE) != FLOW_TYPE:
        raise _error(400, "InvalidParameterException", f"renraku runs Type {FLOW_TYPE} flows only")
    content = _content(params)
    with api.app.store.connect() as conn:
        try:
            flow_service.load(conn, app_id, name)
        except NotFound:
            pass
        else:
            raise _error(409, "DuplicateResourceException", f"a flow named {name!r} exists")
    try:
        summary = flow_service.create(
            api.app, app_id, content, name=name, description=params.get("Description")
        )
    except InvalidInput as exc:
        raise _invalid(exc) from exc
    return {
        "ContactFlowId": summary["Id"],
        "ContactFlowArn": _arn(app_id, summary["Id"]),
        "FlowContentSha256": _sha(content),
    }


def update_contact_flow_content(
    api: ConnectApi, principal: Principal | None, params: Mapping[str, Any]
) -> Mapping[str, Any]:
    app_id = api._app_id(principal, params)
    content = _content(params)
    summary = _summary(api, app_id, str(params["ContactFlowId"]))
    try:
        flow_service.create(api.app, app_id, content, name=summary["Name"])
    except InvalidInput as exc:
        raise _invalid(exc) from exc
    return {}


def _summary(api: ConnectApi, app_id: str, key: str) -> dict[str, Any]:
    try:
        return flow_service.show(api.app, app_id, key)
    except NotFound as exc:
        raise _error(404, "ResourceNotFoundException", f"contact flow {key!r} not found") from exc


def describe_contact_flow(
    api: ConnectApi, principal: Principal | None, params: Mapping[str, Any]
) -> Mapping[str, Any]:
    app_id = api._app_id(principal, params)
    shown = _summary(api, app_id, str(params["ContactFlowId"]))
    return {
        "ContactFlow": {
            "Arn": _arn(app_id, shown["Id"]),
            "Id": shown["Id"],
            "Name": shown["Name"],
            "Type": FLOW_TYPE,
            "State": "ACTIVE",
            "Status": "PUBLISHED",
            "Description": shown["Description"] or "",
            "Content": json.dumps(shown["Content"], ensure_ascii=False),
            "FlowContentSha256": _sha(shown["Content"]),
            "Version": shown["Version"],
            "LastModifiedTime": parse_iso(shown["LastModifiedDate"]).timestamp(),
            "Tags": {},
        }
    }


def list_contact_flows(
    api: ConnectApi, principal: Principal | None, params: Mapping[str, Any]
) -> Mapping[str, Any]:
    app_id = api._app_id(principal, params)
    flows = flow_service.list_all(api.app, app_id)
    return {
        "ContactFlowSummaryList": [
            {
                "Id": f["Id"],
                "Arn": _arn(app_id, f["Id"]),
                "Name": f["Name"],
                "ContactFlowType": FLOW_TYPE,
                "ContactFlowState": "ACTIVE",
                "ContactFlowStatus": "PUBLISHED",
            }
            for f in flows
        ]
    }
