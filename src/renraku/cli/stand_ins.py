"""``renraku stand-ins``: run the local provider stand-ins (Twilio-compatible API, mailbox) until
interrupted, so a demo or a development setup needs no real provider account."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from renraku.cli.common import console

group = typer.Typer(
    help="Local stand-ins for providers: a Twilio-compatible API and an SMTP mailbox.",
    no_args_is_help=True,
)


@group.command("twilio")
def twilio(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8931,
    account_sid: Annotated[str, typer.Option(help="The account SID clients must use.")] = "AC"
    + "0" * 32,
    auth_token: Annotated[
        str, typer.Option(envvar="RENRAKU_SMS__TWILIO__AUTH_TOKEN", help="The auth token.")
    ] = "simulator-token",  # noqa: S107 (the local stand-in's own default)
) -> None:
    """Serve the Twilio-compatible API (Messages, signed status callbacks, /simulator/inbound)."""
    from renraku.simulators.twilio import TwilioSimulator, build_simulator

    simulator = TwilioSimulator(build_simulator(account_sid, auth_token), port=port)
    simulator.start()
    console.print(
        f"Twilio-compatible API at {simulator.url} (account {account_sid}); "
        f'set sms.twilio.base_url = "{simulator.url}". Ctrl-C to stop.',
        markup=False,
        highlight=False,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


@group.command("mailbox")
def mailbox(
    port: Annotated[int, typer.Option(help="SMTP port on 127.0.0.1.")] = 2525,
    directory: Annotated[
        Path, typer.Option("--dir", help="Where each message is written as an .eml file.")
    ] = Path("mail"),
) -> None:
    """Serve an SMTP mailbox that keeps every message as an .eml file."""
    from renraku.simulators import mailbox as box

    running = box.start(directory, port)
    console.print(
        f"SMTP mailbox on 127.0.0.1:{running.port}, writing to {directory}/; set "
        f"email.smtp.port = {running.port}. Ctrl-C to stop.",
        markup=False,
        highlight=False,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
