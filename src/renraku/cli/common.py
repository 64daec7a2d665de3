"""What every command shares: global options, the lazily built App, JSON or rich output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from renraku.app import App, build_app
from renraku.settings import Settings, load_settings
from renraku.store import apps as app_store

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    """Global options, and the App built from them on first use."""

    db: str | None = None
    app_key: str | None = None
    config: Path | None = None
    _app: App | None = field(default=None, repr=False)
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config, db=self.db, app=self.app_key)
        return self._settings

    @property
    def app(self) -> App:
        if self._app is None:
            self._app = build_app(self.settings)
        return self._app

    def app_record(self) -> dict[str, Any]:
        """The selected application (``--app``/``RENRAKU_APP``, or the only one)."""
        with self.app.store.connect() as conn:
            return app_store.resolve_app(conn, self.settings.app)

    def app_id(self) -> str:
        return str(self.app_record()["Id"])

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        obj = CliState()
        ctx.find_root().obj = obj
    return obj


def emit(data: Any, json_out: bool, render: Callable[[], None] | None = None) -> None:
    """Print ``data`` as JSON with ``--json``, else call ``render`` (or pretty-print the data)."""
    if json_out or render is None:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
        sys.stdout.flush()
    else:
        render()


def load_json_arg(value: str) -> Any:
    """A JSON argument given inline, as ``@FILE``, or as ``-`` for standard input."""
    from renraku.errors import InvalidInput, Problem

    if value == "-":
        text = sys.stdin.read()
        where = "<stdin>"
    elif value.startswith("@"):
        path = Path(value[1:])
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise InvalidInput([Problem(str(path), f"cannot read: {exc.strerror}")]) from exc
        where = str(path)
    else:
        text = value
        where = "<argument>"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            [Problem(f"{where}:{exc.lineno}:{exc.colno}", f"not valid JSON: {exc.msg}")]
        ) from exc
