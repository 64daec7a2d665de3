"""``renraku dashboard-users``: who may log in to the dashboard (``renraku serve``, under /ui)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, state
from renraku.errors import InvalidInput, Problem
from renraku.store import dashboard_users as user_store
from renraku.web import sessions

group = typer.Typer(
    help="Dashboard users: names and passwords (salted scrypt hashes) for the web dashboard.",
    no_args_is_help=True,
)

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from standard input (first line) instead."
    ),
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InvalidInput(
                [Problem("password", "standard input was empty")], subject="password"
            )
        return line
    first = typer.prompt("Password", hide_input=True, err=True)
    again = typer.prompt("Repeat the password", hide_input=True, err=True)
    if first != again:
        raise InvalidInput([Problem("password", "the two entries differ")], subject="password")
    return str(first)


@group.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ @ -).")],
    password_stdin: PasswordStdin = False,
    json_out: JsonOpt = False,
) -> None:
    """Create a dashboard user (asks for the password twice unless --password-stdin)."""
    user = sessions.create_user(state(ctx).app, name, _password(password_stdin))
    emit(user, json_out, lambda: console.print(f"Created dashboard user {user['Name']}."))


@group.command("password")
def password(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name.")],
    password_stdin: PasswordStdin = False,
    json_out: JsonOpt = False,
) -> None:
    """Set a new password (the user's sessions end)."""
    sessions.set_password(state(ctx).app, name, _password(password_stdin))
    emit({"Name": name}, json_out, lambda: console.print(f"Password of {name} changed."))


@group.command("list")
def list_(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List dashboard users."""
    with state(ctx).app.store.connect() as conn:
        users = user_store.list_users(conn)

    def render() -> None:
        table = Table("Name", "Created", "Last login")
        for u in users:
            table.add_row(u["Name"], u["CreatedAt"], u["LastLoginAt"] or "never")
        console.print(table)

    emit(users, json_out, render)


@group.command("delete")
def delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name.")],
    json_out: JsonOpt = False,
) -> None:
    """Delete a dashboard user and end its sessions."""
    with state(ctx).app.store.begin() as conn:
        user = user_store.delete_user(conn, name)
    emit(user, json_out, lambda: console.print(f"Deleted dashboard user {name}."))
