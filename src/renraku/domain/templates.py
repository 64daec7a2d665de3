"""Message templates with Pinpoint's parts and variable syntax, rendered in a sandbox.

Parts: EMAIL ``Subject``, ``HtmlPart``, ``TextPart``, ``Headers``; SMS and VOICE ``Body``; every type
``DefaultSubstitutions`` (a JSON object, or its text as Pinpoint stores it). Variables are Pinpoint's
message variables, e.g. ``{{User.UserAttributes.FirstName}}``, ``{{Attributes.CallStatus}}``,
``{{Address}}``. renraku adds ``{{UnsubscribeUrl}}``.

Templates compile in jinja2's ``SandboxedEnvironment``: the context holds only plain strings and
dicts built here, and attribute access on anything else is refused, so a template can never reach
Python internals. ``check`` reports every problem at create time (syntax, unknown fields); ``render``
raises :class:`RenderError` for one endpoint without affecting others.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from renraku.domain.endpoints import DEMOGRAPHIC_FIELDS, LOCATION_FIELDS, Endpoint
from renraku.errors import InvalidInput, Problem

PARTS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "EMAIL": ("Subject", "HtmlPart", "TextPart"),
    "SMS": ("Body",),
    "VOICE": ("Body",),
    "PUSH": ("Title", "Body"),
}
EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "EMAIL": ("Headers", "DefaultSubstitutions", "RecommenderId"),
    "SMS": ("DefaultSubstitutions", "RecommenderId"),
    "VOICE": ("DefaultSubstitutions", "LanguageCode", "VoiceId"),
    "PUSH": ("DefaultSubstitutions", "Action", "Url"),
}
# Endpoint fields usable as a bare name, e.g. {{Address}}.
SCALAR_FIELDS = (
    "Address",
    "ChannelType",
    "Id",
    "EndpointId",
    "OptOut",
    "EndpointStatus",
    "EffectiveDate",
    "CreationDate",
    "ApplicationId",
    "UnsubscribeUrl",
)
# Fields with a fixed set of sub-fields; None means any name.
GROUP_FIELDS: dict[str, tuple[str, ...] | None] = {
    "Attributes": None,
    "Metrics": None,
    "Demographic": DEMOGRAPHIC_FIELDS,
    "Location": LOCATION_FIELDS,
}


class RenderError(Exception):
    """A template could not be rendered for one endpoint; the message says why."""


class _Sandbox(SandboxedEnvironment):
    """The sandbox, where ``a.b`` on a context dict reads key ``b`` only, never a dict method."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict):
            if attribute in obj:
                return obj[attribute]
            return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


_ENV = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_HTML_ENV = _Sandbox(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered message: its parts, and the variables that had no value (rendered empty)."""

    parts: dict[str, str]
    headers: list[dict[str, str]] = field(default_factory=list)
    missing: tuple[str, ...] = ()


_PLAIN_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*\}\}")


def pinpoint_syntax(source: str) -> str:
    """Pinpoint's plain variables in jinja2 terms: names with hyphens become item lookups.

    ``{{Attributes.Call-Status}}`` means one attribute in Pinpoint, but a subtraction in jinja2;
    it becomes ``{{ Attributes["Call-Status"] }}``. Other text is left as it is.
    """

    def rewrite(match: re.Match[str]) -> str:
        path = match.group(1)
        if "-" not in path:
            return match.group(0)
        head, *rest = path.split(".")
        if "-" in head:
            return match.group(0)
        return "{{ " + head + "".join(f'["{part}"]' for part in rest) + " }}"

    return _PLAIN_VARIABLE.sub(rewrite, source)


def variable_paths(source: str) -> list[str]:
    """The dotted variable names a template text uses, in order of first use.

    Raises ``TemplateSyntaxError`` for a text jinja2 cannot parse.
    """
    return list(_paths(source))


@lru_cache(maxsize=512)
def _paths(source: str) -> tuple[str, ...]:
    tree = _ENV.parse(pinpoint_syntax(source))
    seen: dict[str, None] = {}
    for path in _walk_paths(tree):
        seen.setdefault(path, None)
    return tuple(seen)


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> Template:
    # Compiling dominates rendering; a batch renders one template for many endpoints.
    return (_HTML_ENV if html else _ENV).from_string(pinpoint_syntax(source))


def _walk_paths(node: nodes.Node) -> Iterator[str]:
    if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
        path = _dotted(node)
        if path is not None:
            yield path
            return
    for child in node.iter_child_nodes():
        yield from _walk_paths(child)


def _dotted(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        base = _dotted(node.node)
        return None if base is None else f"{base}.{node.attr}"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        base = _dotted(node.node)
        return None if base is None else f"{base}.{node.arg.value}"
    return None


def field_problem(path: str) -> str | None:
    """Why ``path`` is not a Pinpoint message variable, or None when it is one."""
    head, _, rest = path.partition(".")
    if head in SCALAR_FIELDS:
        return None if not rest else f"{head} has no sub-fields"
    if head in GROUP_FIELDS:
        allowed = GROUP_FIELDS[head]
        if not rest or "." in rest:
            return f"use {head}.NAME (one level)"
        if allowed is not None and rest not in allowed:
            return f"{head} has no field {rest!r}; known: {', '.join(allowed)}"
        return None
    if head == "User":
        if rest == "UserId":
            return None
        sub, _, name = rest.partition(".")
        if sub == "UserAttributes" and name and "." not in name:
            return None
        return "use User.UserId or User.UserAttributes.NAME"
    known = ", ".join((*SCALAR_FIELDS, *GROUP_FIELDS, "User"))
    return f"unknown field {head!r}; message variables start with one of {known}"


def parse_defaults(value: Any) -> dict[str, str]:
    """DefaultSubstitutions as a flat ``{"User.UserAttributes.FirstName": "Customer"}`` map.

    Accepts Pinpoint's JSON text or an object, flat (dotted keys) or nested.
    """
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                [Problem("DefaultSubstitutions", f"not valid JSON: {exc.msg}")], subject="template"
            ) from exc
    if not isinstance(value, Mapping):
        raise InvalidInput(
            [Problem("DefaultSubstitutions", "must be a JSON object")], subject="template"
        )
    flat: dict[str, str] = {}

    def visit(prefix: str, obj: Mapping[str, Any]) -> None:
        for key, item in obj.items():
            name = f"{prefix}{key}"
            if isinstance(item, Mapping):
                visit(name + ".", item)
            elif isinstance(item, list):
                flat[name] = ", ".join(str(v) for v in item)
            else:
                flat[name] = "" if item is None else str(item)

    visit("", value)
    return flat


def check(template_type: str, parts: Mapping[str, Any]) -> list[Problem]:
    """Every problem with a template definition: missing parts, syntax, unknown fields."""
    problems: list[Problem] = []
    ttype = template_type.upper()
    if ttype not in PARTS_BY_TYPE:
        return [Problem("TemplateType", f"must be one of {', '.join(PARTS_BY_TYPE)}")]
    text_parts = PARTS_BY_TYPE[ttype]
    allowed = {*text_parts, *EXTRA_FIELDS[ttype], "TemplateDescription", "tags"}
    for key in parts:
        if key not in allowed:
            problems.append(
                Problem(key, f"not a {ttype} template part; use {', '.join(sorted(allowed))}")
            )
    if not any(parts.get(p) for p in text_parts):
        problems.append(
            Problem(text_parts[0], f"a {ttype} template needs {' or '.join(text_parts)}")
        )
    if ttype == "EMAIL" and not parts.get("Subject"):
        problems.append(Problem("Subject", "an EMAIL template needs a Subject"))
    try:
        defaults = parse_defaults(parts.get("DefaultSubstitutions"))
    except InvalidInput as exc:
        problems.extend(exc.problems)
        defaults = {}
    for key in defaults:
        reason = field_problem(key)
        if reason is not None:
            problems.append(Problem(f"DefaultSubstitutions.{key}", reason))
    sources: list[tuple[str, Any]] = [(p, parts.get(p)) for p in text_parts]
    for i, header in enumerate(parts.get("Headers") or []):
        if not isinstance(header, Mapping) or not header.get("Name"):
            problems.append(Problem(f"Headers[{i}]", "each header needs Name and Value"))
            continue
        sources.append((f"Headers[{i}].Value", header.get("Value", "")))
    for where, source in sources:
        if source is None:
            continue
        if not isinstance(source, str):
            problems.append(Problem(where, "must be text"))
            continue
        try:
            paths = variable_paths(source)
        except TemplateSyntaxError as exc:
            problems.append(Problem(f"{where}:{exc.lineno}", f"template syntax: {exc.message}"))
            continue
        for path in paths:
            reason = field_problem(path)
            if reason is not None:
                problems.append(Problem(where, f"{{{{{path}}}}}: {reason}"))
        for node in _ENV.parse(pinpoint_syntax(source)).find_all(nodes.Getattr):
            if node.attr.startswith("_"):
                problems.append(Problem(where, f"attribute {node.attr!r} is not allowed"))
    return problems


def endpoint_values(endpoint: Endpoint, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every message variable an endpoint defines, flat and dotted; list values joined by ', '."""
    out: dict[str, str] = {
        "Address": endpoint.address,
        "ChannelType": endpoint.channel_type,
        "Id": endpoint.id,
        "EndpointId": endpoint.id,
        "OptOut": endpoint.opt_out,
        "EndpointStatus": endpoint.endpoint_status,
        "ApplicationId": endpoint.app_id,
    }
    if endpoint.effective_date:
        out["EffectiveDate"] = endpoint.effective_date
    if endpoint.creation_date:
        out["CreationDate"] = endpoint.creation_date
    if endpoint.user_id:
        out["User.UserId"] = endpoint.user_id
    for name, values in endpoint.attributes.items():
        out[f"Attributes.{name}"] = ", ".join(values)
    for name, values in endpoint.user_attributes.items():
        out[f"User.UserAttributes.{name}"] = ", ".join(values)
    for name, value in endpoint.demographic.items():
        out[f"Demographic.{name}"] = str(value)
    for name, value in endpoint.location.items():
        out[f"Location.{name}"] = str(value)
    for name, metric in endpoint.metrics.items():
        out[f"Metrics.{name}"] = format(metric, "g")
    out.update(extra or {})
    return out


def _nest(flat: Mapping[str, str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path, value in flat.items():
        node = root
        *heads, last = path.split(".")
        for head in heads:
            child = node.get(head)
            if not isinstance(child, dict):
                child = {}
                node[head] = child
            node = child
        node.setdefault(last, value)
    return root


def render_text(
    source: str, values: Mapping[str, str], defaults: Mapping[str, str], *, html: bool = False
) -> tuple[str, list[str]]:
    """Render one text; returns it and the variables that had no value and no default."""
    try:
        paths = variable_paths(source)
    except TemplateSyntaxError as exc:
        raise RenderError(f"template syntax (line {exc.lineno}): {exc.message}") from exc
    flat: dict[str, str] = {}
    missing: list[str] = []
    for path in paths:
        if path in values and values[path] != "":
            flat[path] = values[path]
        elif path in defaults:
            flat[path] = defaults[path]
        else:
            flat[path] = ""
            missing.append(path)
    try:
        return _compiled(source, html).render(_nest(flat)), missing
    except SecurityError as exc:
        raise RenderError(f"refused by the template sandbox: {exc}") from exc
    except TemplateError as exc:
        raise RenderError(f"cannot render: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise RenderError(f"cannot render: {type(exc).__name__}: {exc}") from exc


def render(
    template_type: str,
    parts: Mapping[str, Any],
    endpoint: Endpoint,
    *,
    extra: Mapping[str, str] | None = None,
) -> Rendered:
    """Render every part of a template for ``endpoint``; ``extra`` adds values (e.g. UnsubscribeUrl)."""
    ttype = template_type.upper()
    defaults = parse_defaults(parts.get("DefaultSubstitutions"))
    values = endpoint_values(endpoint, extra)
    out: dict[str, str] = {}
    missing: list[str] = []
    for part in PARTS_BY_TYPE.get(ttype, ("Body",)):
        source = parts.get(part)
        if not source:
            continue
        text, absent = render_text(str(source), values, defaults, html=part == "HtmlPart")
        out[part] = text
        missing.extend(p for p in absent if p not in missing)
    headers: list[dict[str, str]] = []
    for header in parts.get("Headers") or []:
        text, absent = render_text(str(header.get("Value", "")), values, defaults)
        if "\r" in text or "\n" in text:
            raise RenderError(f"header {header.get('Name')} would contain a line break")
        headers.append({"Name": str(header["Name"]), "Value": text})
        missing.extend(p for p in absent if p not in missing)
    if "Subject" in out and ("\r" in out["Subject"] or "\n" in out["Subject"]):
        out["Subject"] = " ".join(out["Subject"].split())
    return Rendered(parts=out, headers=headers, missing=tuple(missing))
