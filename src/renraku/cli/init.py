"""``renraku init``: create the schema and the ``default`` application."""

from __future__ import annotations

import typer

from renraku.cli.common import JsonOpt, console, emit, state
from renraku.errors import NotFound
from renraku.store import apps as app_store


def init_command(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Create (or upgrade) the database schema and an application named [bold]default[/]."""
    st = state(ctx)
    app = st.app
    with app.store.begin() as conn:
        try:
            record = app_store.get_app(conn, "default")
            created = False
        except NotFound:
            record = app_store.create_app(conn, "default", now=app.now_iso())
            created = True
    data = {"Database": _safe_url(st.settings.db), "Application": record, "Created": created}

    def render() -> None:
        verb = "created" if created else "already present"
        console.print(f"Database [bold]{data['Database']}[/] is ready.")
        console.print(f"Application [bold]default[/] ({record['Id']}) {verb}.")

    emit(data, json_out, render)


def _safe_url(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    from renraku.store.engine import normalise_url

    return make_url(normalise_url(url)).render_as_string(hide_password=True)
