"""Template use cases: create (checked), show, list, delete, and preview a render for an endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from renraku.domain import templates as tpl
from renraku.domain.endpoints import Endpoint
from renraku.domain.sms_encoding import measure
from renraku.errors import InvalidInput, NotFound, Problem
from renraku.store import endpoints as endpoint_store
from renraku.store import templates as template_store

if TYPE_CHECKING:
    from renraku.app import App

META_KEYS = ("TemplateDescription", "tags")


def create_template(
    app: App,
    app_id: str,
    name: str,
    template_type: str,
    request: dict[str, Any],
    *,
    replace: bool = True,
) -> dict[str, Any]:
    """Create or update a template after checking every part; InvalidInput lists all problems."""
    ttype = template_type.upper()
    problems: list[Problem] = []
    if not name or len(name) > 128 or not all(c.isalnum() or c in "-_" for c in name):
        problems.append(Problem("TemplateName", "1 to 128 letters, digits, hyphens or underscores"))
    problems.extend(tpl.check(ttype, request))
    if problems:
        raise InvalidInput(problems, subject=f"{ttype} template {name!r}")
    parts = {k: v for k, v in request.items() if k not in META_KEYS}
    with app.store.begin() as conn:
        return template_store.put(
            conn,
            app_id,
            name,
            ttype,
            parts,
            now=app.now_iso(),
            description=request.get("TemplateDescription"),
            tags=request.get("tags"),
            create_only=not replace,
        )


def get_template(app: App, app_id: str, name: str, template_type: str | None) -> dict[str, Any]:
    """A template by name; without a type, the only template of that name."""
    with app.store.connect() as conn:
        if template_type:
            return template_store.get(conn, app_id, name, template_type)
        found = template_store.find(conn, app_id, name)
    if not found:
        raise NotFound("template", name)
    if len(found) > 1:
        types = ", ".join(t["TemplateType"] for t in found)
        raise InvalidInput(
            [Problem("--type", f"{name!r} exists as {types}; choose one")], subject="template"
        )
    return found[0]


def render_preview(
    app: App,
    app_id: str,
    name: str,
    template_type: str | None,
    *,
    endpoint_id: str | None = None,
    endpoint: Endpoint | None = None,
) -> dict[str, Any]:
    """Render a template for a stored endpoint (or a given one); SMS bodies get length figures."""
    template = get_template(app, app_id, name, template_type)
    if endpoint is None:
        if endpoint_id is None:
            raise InvalidInput([Problem("--endpoint", "give an endpoint id")], subject="render")
        with app.store.connect() as conn:
            endpoint = endpoint_store.get(conn, app_id, endpoint_id)
    try:
        rendered = tpl.render(template["TemplateType"], template, endpoint)
    except tpl.RenderError as exc:
        raise InvalidInput([Problem(name, str(exc))], subject="render") from exc
    out: dict[str, Any] = {
        "TemplateName": name,
        "TemplateType": template["TemplateType"],
        "EndpointId": endpoint.id,
        **rendered.parts,
        "MissingVariables": list(rendered.missing),
    }
    if rendered.headers:
        out["Headers"] = rendered.headers
    if template["TemplateType"] in ("SMS", "VOICE") and "Body" in rendered.parts:
        out["Length"] = measure(rendered.parts["Body"]).to_json()
        price = app.settings.sms.price_for(endpoint.address)
        if price:
            out["Length"]["EstimatedPrice"] = round(out["Length"]["Segments"] * price, 6)
    return out
