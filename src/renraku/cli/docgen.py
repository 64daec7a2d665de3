"""The reference pages generated from the code, so they cannot drift from it:
``docs/reference/cli.md`` from the typer application, ``docs/reference/settings.md`` from the
settings models. ``python -m renraku.cli.docgen`` rewrites both; a test fails when they are stale.
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

CLI_HEADER = """# CLI reference

Generated from the command line application by `python -m renraku.cli.docgen`; a test fails
when this page and the code disagree. Every command takes `--json` for machine-readable output.
Global options go before the command: `renraku --db URL --app NAME COMMAND ...`.
"""

SETTINGS_HEADER = """# Settings reference

Generated from the settings models by `python -m renraku.cli.docgen`. Settings come from
`renraku.toml` (in the current folder, or `--config FILE` / `RENRAKU_CONFIG`), overlaid by
environment variables: the key path in capitals joined by `__` after `RENRAKU_`, e.g.
`[email.smtp] port = 2525` is `RENRAKU_EMAIL__SMTP__PORT=2525`. Command-line options win over
both. `renraku config show` prints the effective settings (secrets masked); `renraku config check`
tests the database and each configured provider.
"""


def _clean(text: str | None) -> str:
    """One line, safe in a Markdown table cell."""
    return " ".join((text or "").replace("\b", "").split()).replace("|", "\\|")


def _param_rows(command: Any) -> Iterator[str]:
    # typer carries its own copy of click: look at what the objects are, not their classes.
    for p in command.params:
        if getattr(p, "hidden", False) or p.name in ("help",):
            continue
        kind = getattr(p, "param_type_name", "")
        if kind == "argument":
            need = "required" if p.required else "optional"
            yield f"| `{(p.name or '').upper()}` | argument, {need}: {_clean(p.help)} | |"
            continue
        if kind != "option":
            continue
        names = ", ".join(f"`{o}`" for o in p.opts + p.secondary_opts)
        default = p.default
        shown = "" if default in (None, False, (), []) or callable(default) else f"`{default}`"
        envvar = f" (env `{p.envvar}`)" if isinstance(p.envvar, str) else ""
        yield f"| {names} | {_clean(p.help)}{envvar} | {shown} |"


def _walk(command: Any, path: list[str]) -> Iterator[str]:
    title = " ".join(path)
    yield f"## {title}\n"
    help_text = (command.help or "").strip()
    if help_text:
        yield help_text.replace("\b", "").strip() + "\n"
    rows = list(_param_rows(command))
    if rows:
        yield "| Parameter | Meaning | Default |\n|---|---|---|"
        yield from rows
        yield ""
    if hasattr(command, "commands"):
        names = list(command.commands)
        if names:
            yield "Commands: " + ", ".join(f"`{n}`" for n in names) + "\n"
        for name in names:
            yield from _walk(command.commands[name], [*path, name])


def cli_reference() -> str:
    """The CLI reference page."""
    from renraku.cli import cli

    root = typer.main.get_command(cli)
    return CLI_HEADER + "\n" + "\n".join(_walk(root, ["renraku"])).rstrip() + "\n"


def _type_name(annotation: Any) -> str:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return " or ".join(f'"{a}"' for a in args)
    if args and typing.get_origin(annotation) in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in args if a is not type(None)) + " (optional)"
    if args:
        return str(getattr(annotation, "__name__", annotation))
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, SecretStr):
        return "(secret)"
    if value is None or value == "" or value == [] or value == {}:
        return ""
    return f"`{value!r}`" if not isinstance(value, str) else f'`"{value}"`'


def _settings_sections(model: type[BaseModel], path: list[str]) -> Iterator[str]:
    scalars: list[str] = []
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested.append((name, annotation))
            continue
        env = "RENRAKU_" + "__".join(p.upper() for p in [*path, name])
        scalars.append(f"| `{name}` | {_type_name(annotation)} | {_default(field)} | `{env}` |")
    if scalars:
        header = f"[{'.'.join(path)}]" if path else "top level"
        doc = _clean(model.__doc__) if path else ""
        yield f"## `{header}`\n"
        if doc:
            yield doc + "\n"
        yield "| Key | Type | Default | Environment |\n|---|---|---|---|"
        yield from scalars
        yield ""
    for name, sub in nested:
        yield from _settings_sections(sub, [*path, name])


def settings_reference() -> str:
    """The settings reference page."""
    from renraku.settings import Settings

    body = "\n".join(_settings_sections(Settings, []))
    return SETTINGS_HEADER + "\n" + body.rstrip() + "\n"


PAGES = {"cli.md": cli_reference, "settings.md": settings_reference}


def main(argv: list[str]) -> int:
    folder = Path(argv[1]) if len(argv) > 1 else Path("docs/reference")
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in PAGES.items():
        (folder / name).write_text(make(), encoding="utf-8")
        print(f"wrote {folder / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
