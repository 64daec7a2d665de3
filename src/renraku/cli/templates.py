"""``renraku templates``: message templates with Pinpoint's parts and variables."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, load_json_arg, state
from renraku.errors import InvalidInput, Problem
from renraku.services import templates as service
from renraku.store import templates as template_store

group = typer.Typer(help="Message templates (EMAIL, SMS, VOICE).", no_args_is_help=True)

TypeOpt = Annotated[str | None, typer.Option("--type", "-t", help="EMAIL, SMS, VOICE or PUSH.")]


@group.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Template name.")],
    template_type: Annotated[str, typer.Option("--type", "-t", help="EMAIL, SMS, VOICE or PUSH.")],
    parts: Annotated[
        str | None,
        typer.Option("--parts", help="Pinpoint's template request as JSON, @FILE or - (stdin)."),
    ] = None,
    subject: Annotated[str | None, typer.Option(help="EMAIL Subject.")] = None,
    text: Annotated[str | None, typer.Option(help="EMAIL TextPart.")] = None,
    html: Annotated[str | None, typer.Option(help="EMAIL HtmlPart (or @FILE).")] = None,
    body: Annotated[str | None, typer.Option(help="SMS or VOICE Body.")] = None,
    defaults: Annotated[
        str | None, typer.Option(help="DefaultSubstitutions as a JSON object.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create or update a template; unknown variables and syntax errors are refused."""
    request: dict[str, Any] = {}
    if parts is not None:
        loaded = load_json_arg(parts)
        if not isinstance(loaded, dict):
            raise InvalidInput([Problem("--parts", "must be a JSON object")], subject="template")
        request.update(loaded)
    for key, value in (
        ("Subject", subject),
        ("TextPart", text),
        ("HtmlPart", html),
        ("Body", body),
    ):
        if value is not None:
            request[key] = _text_arg(value)
    if defaults is not None:
        request["DefaultSubstitutions"] = load_json_arg(defaults)
    st = state(ctx)
    result = service.create_template(st.app, st.app_id(), name, template_type, request)
    emit(
        result,
        json_out,
        lambda: console.print(
            f"{result['TemplateType']} template {name} saved (version {result['Version']})"
        ),
    )


def _text_arg(value: str) -> str:
    if value.startswith("@"):
        from pathlib import Path

        try:
            return Path(value[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput([Problem(value[1:], f"cannot read: {exc.strerror}")]) from exc
    return value


@group.command("show")
def show(
    ctx: typer.Context, name: str, template_type: TypeOpt = None, json_out: JsonOpt = False
) -> None:
    """Show a template in Pinpoint's *TemplateResponse shape."""
    st = state(ctx)
    emit(service.get_template(st.app, st.app_id(), name, template_type), True)


@group.command("list")
def list_(ctx: typer.Context, template_type: TypeOpt = None, json_out: JsonOpt = False) -> None:
    """List templates (Pinpoint's TemplatesResponse: {"Item": [...]})."""
    st = state(ctx)
    app_id = st.app_id()
    with st.app.store.connect() as conn:
        items = template_store.list_templates(conn, app_id, template_type=template_type)

    def render() -> None:
        table = Table("Name", "Type", "Version", "Last modified")
        for item in items:
            table.add_row(
                item["TemplateName"],
                item["TemplateType"],
                item["Version"],
                item["LastModifiedDate"],
            )
        console.print(table)

    emit({"Item": items}, json_out, render)


@group.command("delete")
def delete(
    ctx: typer.Context, name: str, template_type: TypeOpt = None, json_out: JsonOpt = False
) -> None:
    """Delete a template."""
    st = state(ctx)
    app_id = st.app_id()
    found = service.get_template(st.app, app_id, name, template_type)
    with st.app.store.begin() as conn:
        template_store.remove(conn, app_id, name, found["TemplateType"])
    emit(
        {"TemplateName": name, "TemplateType": found["TemplateType"], "Deleted": True},
        json_out,
        lambda: console.print(f"deleted {found['TemplateType']} template {name}"),
    )


@group.command("render")
def render_(
    ctx: typer.Context,
    name: str,
    endpoint: Annotated[str, typer.Option("--endpoint", "-e", help="Endpoint id.")],
    template_type: TypeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Render a template for one endpoint (SMS: encoding and segment count too)."""
    st = state(ctx)
    out = service.render_preview(st.app, st.app_id(), name, template_type, endpoint_id=endpoint)

    def render() -> None:
        for key in ("Subject", "TextPart", "HtmlPart", "Title", "Body"):
            if key in out:
                console.print(f"[bold]{key}[/]", markup=True)
                console.print(out[key], markup=False, highlight=False)
        if "Length" in out:
            ln = out["Length"]
            console.print(
                f"{ln['Encoding']}, {ln['Characters']} characters, {ln['Segments']} segment(s)"
            )
        if out["MissingVariables"]:
            console.print("no value (rendered empty): " + ", ".join(out["MissingVariables"]))

    emit(out, json_out, render)
