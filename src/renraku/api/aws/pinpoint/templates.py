"""Pinpoint email and SMS templates: Create/Get/Update/Delete.

Pinpoint's templates belong to the account; renraku's belong to an application: the caller's
key's application, or for an administrator key the server's default application (``--app`` /
``RENRAKU_APP``, or the only one there is).
"""

from __future__ import annotations

from renraku.api.aws.pinpoint.calls import Call, Payload, operation
from renraku.services import templates as template_service
from renraku.store import apps as app_store
from renraku.store import templates as template_store

TEMPLATE_ARN = "arn:aws:mobiletargeting:local:000000000000:templates/{name}/{kind}"
_REQUEST = {"EMAIL": "EmailTemplateRequest", "SMS": "SMSTemplateRequest"}


def _app_id(call: Call) -> str:
    if call.principal.app_id is not None:
        return call.principal.app_id
    with call.app.store.connect() as conn:
        return str(app_store.resolve_app(conn, call.app.settings.app)["Id"])


def _name(call: Call) -> str:
    return str(call.params["TemplateName"])


def _put(call: Call, kind: str, *, replace: bool) -> None:
    template_service.create_template(
        call.app, _app_id(call), _name(call), kind, call.body(_REQUEST[kind]), replace=replace
    )


def _created(call: Call, kind: str) -> Payload:
    _put(call, kind, replace=False)
    return {
        "Arn": TEMPLATE_ARN.format(name=_name(call), kind=kind),
        "Message": "Created",
        "RequestID": call.request_id,
    }


def _get(call: Call, kind: str) -> Payload:
    found = template_service.get_template(call.app, _app_id(call), _name(call), kind)
    return {"Arn": TEMPLATE_ARN.format(name=_name(call), kind=kind), **found}


def _delete(call: Call, kind: str) -> Payload:
    app_id = _app_id(call)
    with call.app.store.begin() as conn:
        template_store.get(conn, app_id, _name(call), kind)  # NotFound names it
        template_store.remove(conn, app_id, _name(call), kind)
    return call.accepted()


@operation("CreateEmailTemplate")
def create_email_template(call: Call) -> Payload:
    return _created(call, "EMAIL")


@operation("CreateSmsTemplate")
def create_sms_template(call: Call) -> Payload:
    return _created(call, "SMS")


@operation("GetEmailTemplate")
def get_email_template(call: Call) -> Payload:
    return _get(call, "EMAIL")


@operation("GetSmsTemplate")
def get_sms_template(call: Call) -> Payload:
    return _get(call, "SMS")


@operation("UpdateEmailTemplate")
def update_email_template(call: Call) -> Payload:
    template_service.get_template(call.app, _app_id(call), _name(call), "EMAIL")
    _put(call, "EMAIL", replace=True)
    return call.accepted()


@operation("UpdateSmsTemplate")
def update_sms_template(call: Call) -> Payload:
    template_service.get_template(call.app, _app_id(call), _name(call), "SMS")
    _put(call, "SMS", replace=True)
    return call.accepted()


@operation("DeleteEmailTemplate")
def delete_email_template(call: Call) -> Payload:
    return _delete(call, "EMAIL")


@operation("DeleteSmsTemplate")
def delete_sms_template(call: Call) -> Payload:
    return _delete(call, "SMS")
