"""``renraku demo`` and ``renraku simulate`` as a newcomer runs them: subprocesses in an empty
folder, no configuration. The demo's mail must be in the Maildir of its SMTP server, its report
must stand alone, and a forecast with the demo's seed must repeat the demo's run figure by figure."""

from __future__ import annotations

import json
import mailbox
import os
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow
# One demo run serves the tests that read it: they stay on one xdist worker, while the tests
# that run a demo or forecast of their own can start on the other one.
ONE_DEMO = pytest.mark.xdist_group("demo")

RENRAKU = str(Path(sys.executable).parent / "renraku")
USERS = 40
SEED = 7
# Events the real transports add on top of the journey's own (the provider's "sent"
# notification); the recording transport of a forecast has no provider to notify.
PROVIDER_ONLY = {"SMS_SENT", "EMAIL_SENT"}


def renraku(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENRAKU_")}
    env["COLUMNS"] = "100"
    proc = subprocess.run(
        [RENRAKU, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("newcomer")
    proc = renraku(
        folder, "demo", "--users", str(USERS), "--seed", str(SEED), "--time-scale", "36000"
    )
    return folder, proc.stdout


def summary(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "demo-out" / "summary.json").read_text("utf-8"))
    return data


@ONE_DEMO
def test_the_demo_prints_the_summary_table_with_every_outcome_adding_up_to_everyone(
    demo: tuple[Path, str],
) -> None:
    folder, out = demo
    data = summary(folder)
    for row in (
        "reached by phone",
        "reached by SMS",
        "reached by email",
        "not reached",
        "opted out",
        "held for quiet hours",
    ):
        assert row in out
    reach = data["Reach"]
    outcomes = [k for k in reach if k != "held for quiet hours"]
    assert sum(reach[k] for k in outcomes) == data["Users"] == USERS
    assert f"{reach['reached by phone']}" in out
    assert "demo-out/report.html" in out


@ONE_DEMO
def test_the_demo_calls_everyone_then_texts_and_mails_only_those_still_pending(
    demo: tuple[Path, str],
) -> None:
    data = summary(demo[0])
    acts = data["Activities"]
    assert data["Sends"]["VOICE"] == USERS
    assert acts["sms"]["SENT"] == acts["pending-after-call"]["BRANCH_True"]
    assert acts["pending-after-call"]["BRANCH_False"] >= data["Reach"]["reached by phone"] > 0
    assert acts["email"]["SENT"] == acts["pending-after-sms"]["BRANCH_True"]
    assert data["Reach"]["reached by SMS"] > 0
    # Customers in London are called at 09:00 London time (9 hours after the start, 09:00 in
    # Tokyo), not at night: the journey ends after that.
    assert data["Reach"]["held for quiet hours"] > 0
    assert acts["call"]["DEFERRED_QUIET_TIME"] > 0
    assert 9 < data["HoursToFinish"] < 24


@ONE_DEMO
def test_every_email_sent_is_a_real_message_in_the_maildir_of_the_local_smtp_server(
    demo: tuple[Path, str],
) -> None:
    folder, _ = demo
    data = summary(folder)
    box = mailbox.Maildir(str(folder / "demo-out" / "mail"), create=False)
    messages = [message_from_bytes(bytes(m), policy=policy.default) for m in box]
    assert len(messages) == data["Sends"]["EMAIL"] == data["MailsInMaildir"] > 0
    subjects = {str(m["Subject"]) for m in messages}
    assert subjects == {"キャンペーンのお知らせ"}
    customers = (folder / "demo-out" / "customers.csv").read_text("utf-8")
    for m in messages:
        assert str(m["To"]).strip("<>") in customers
    assert data["SmsInSimulator"] == data["Sends"]["SMS"]


@ONE_DEMO
def test_the_report_is_one_self_contained_html_file_with_svg_charts(
    demo: tuple[Path, str],
) -> None:
    html = (demo[0] / "demo-out" / "report.html").read_text("utf-8")
    assert html.startswith("<!doctype html>")
    assert html.count("<svg") >= 3
    assert "reached by phone" in html
    for fetched in ("src=", "<script", "href=", "<link"):  # nothing loaded from elsewhere
        assert fetched not in html


@ONE_DEMO
def test_a_forecast_with_the_demos_seed_repeats_the_demo_run_figure_by_figure(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    real = summary(demo[0])
    proc = renraku(
        tmp_path, "simulate", "--seeds", "1", "--first-seed", str(SEED),
        "--users", str(USERS), "--json",
    )  # fmt: skip
    forecast = json.loads(proc.stdout)
    run = forecast["Runs"][0]
    for act, metrics in real["Activities"].items():
        expected = {k: v for k, v in metrics.items() if k not in PROVIDER_ONLY}
        assert run["Activities"][act] == expected, act
    for key in ("Reach", "Sends", "SendsPerHour", "Calls", "CallMinutes", "SmsSegments",
                "PeakConcurrentCalls", "HoursToFinish", "Costs", "Users"):  # fmt: skip
        assert run[key] == real[key], key
    assert (tmp_path / "simulate-out" / "forecast.html").read_text("utf-8").count("<svg") >= 3


def test_a_forecast_over_several_seeds_reports_the_spread_of_every_figure(tmp_path: Path) -> None:
    proc = renraku(tmp_path, "simulate", "--seeds", "3", "--users", "20", "--json")
    data = json.loads(proc.stdout)
    assert data["Seeds"] == [2023, 2024, 2025]
    reached = [r["Reach"]["reached by phone"] for r in data["Runs"]]
    figure = data["Figures"]["Reach/reached by phone"]
    assert (figure["Min"], figure["Max"]) == (min(reached), max(reached))
    assert figure["Mean"] == pytest.approx(sum(reached) / 3, abs=1e-3)
    assert data["Figures"]["Sends/VOICE"]["Mean"] == 20
    assert data["Figures"]["Cost/Total"]["Mean"] > 0


@ONE_DEMO
def test_a_forecast_can_run_over_a_real_segment_of_a_database(demo: tuple[Path, str]) -> None:
    folder, _ = demo
    proc = renraku(
        folder, "--db", "sqlite:///demo-out/renraku.db", "simulate", "--segment",
        "seed-customers", "--seeds", "2", "--out", "forecast-out", "--json",
    )  # fmt: skip
    data = json.loads(proc.stdout)
    assert data["Population"] == "the segment seed-customers of the database"
    assert [r["Users"] for r in data["Runs"]] == [USERS, USERS]
    assert data["Figures"]["Sends/VOICE"]["Mean"] == USERS
    # The segment as it is now: customers reached or opted out in the demo are not texted again.
    assert data["Figures"]["Sends/SMS"]["Max"] < summary(folder)["Sends"]["SMS"]


def test_the_demo_refuses_to_wipe_a_folder_that_is_not_an_earlier_demo(tmp_path: Path) -> None:
    keep = tmp_path / "work"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENRAKU_")}
    proc = subprocess.run(
        [RENRAKU, "demo", "--out", "work", "--users", "2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "not an earlier demo's folder" in proc.stderr
    assert (keep / "notes.txt").read_text(encoding="utf-8") == "mine"
