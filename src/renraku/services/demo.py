"""The seed scenario on embedded defaults, in a fresh folder: ``renraku demo`` / ``make demo``.

A SQLite database, the voice simulator, a Twilio-compatible SMS simulator and a real SMTP server
(aiosmtpd on 127.0.0.1, mail kept in a Maildir folder), all local and all stopped at the end. The
seed's customer list plus a seeded synthetic population (Japanese names, four time zones, callees
who answer, press 1, hang up or never pick up) runs through the escalation journey phone ->
(1 hour) -> SMS -> (1 hour) -> email with quiet hours, on a journey clock paced at ``time_scale``
journey seconds per second. The result: a summary, ``report.html`` and ``summary.json``.
"""

from __future__ import annotations

import json
import mailbox
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renraku.app import build_app
from renraku.errors import ConfigError
from renraku.settings import Settings
from renraku.simulation import outcome as run_outcome
from renraku.simulation import report, scenario


@dataclass(frozen=True)
class DemoOptions:
    out: Path = Path("demo-out")
    users: int = 200
    seed: int = 2023
    time_scale: float = 3600.0  # journey seconds per wall-clock second: an hour per second
    start: str | None = None  # journey time at the start (default: [simulation] start)


@dataclass
class DemoResult:
    outcome: run_outcome.Outcome
    database: str
    report: Path
    summary: Path
    maildir: Path
    customers: Path
    mails: int
    sms: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "Database": self.database,
            "Report": str(self.report),
            "Summary": str(self.summary),
            "Maildir": str(self.maildir),
            "CustomerList": str(self.customers),
            "MailsInMaildir": self.mails,
            "SmsInSimulator": self.sms,
            "Seconds": round(self.seconds, 2),
            **self.outcome.to_json(),
        }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_sink(maildir: Path) -> Iterator[int]:
    """A real SMTP server on 127.0.0.1 storing every message in ``maildir``; yields its port."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    port = _free_port()
    controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


DEMO_MARKS = ("summary.json", "renraku.db", "customers.csv")


def _clear(out: Path) -> None:
    """Empty ``out`` for a new run; refuse a folder that holds anything but an earlier demo."""
    if out.exists():
        if not out.is_dir() or (
            any(out.iterdir()) and not any((out / m).exists() for m in DEMO_MARKS)
        ):
            raise ConfigError(
                f"{out} exists and is not an earlier demo's folder; give --out a new folder"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)


def run_demo(
    options: DemoOptions,
    base: Settings | None = None,
    on_step: Callable[[scenario.Snapshot], None] | None = None,
    on_ready: Callable[[scenario.Setup], None] | None = None,
) -> DemoResult:
    """Recreate ``options.out`` and run the scenario there (see the module docstring)."""
    from renraku.simulators import twilio as twilio_simulator

    started = time.monotonic()
    base = base or Settings()
    out = options.out
    _clear(out)
    maildir = out / "mail"
    customers = scenario.population_csv(out / "customers.csv", options.users, options.seed)
    start = scenario.start_time(base.simulation, options.start)
    db_url = f"sqlite:///{out / 'renraku.db'}"
    with smtp_sink(maildir) as smtp_port, twilio_simulator.running() as sms:
        settings = scenario.run_settings(
            db_url,
            seed=options.seed,
            start=start,
            base=base,
            email_port=smtp_port,
            sms_base_url=sms.url,
        )
        app = build_app(settings)
        try:
            setup = scenario.prepare(app, customers)
            if on_ready is not None:
                on_ready(setup)
            scenario.run(
                app,
                setup,
                settings.simulation,
                options.seed,
                time_scale=options.time_scale,
                on_step=on_step,
            )
            outcome = run_outcome.outcome(app, setup, settings.simulation, options.seed, start)
        finally:
            app.close()
        sms_count = len(sms.state.messages)
    mails = len(mailbox.Maildir(str(maildir), create=False))
    summary_path = out / "summary.json"
    report_path = out / "report.html"
    result = DemoResult(
        outcome=outcome,
        database=db_url,
        report=report_path,
        summary=summary_path,
        maildir=maildir,
        customers=customers,
        mails=mails,
        sms=sms_count,
        seconds=time.monotonic() - started,
    )
    summary_path.write_text(
        json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    report_path.write_text(
        report.run_report(
            outcome,
            title="renraku demo: the seed scenario",
            journey=setup.journey,
            notes=[
                f"{options.users} customers (seed {options.seed}), journey time from {start}",
                f"{mails} emails in {maildir}, {sms_count} SMS in the SMS simulator",
            ],
        ),
        encoding="utf-8",
    )
    return result
