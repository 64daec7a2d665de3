"""Dashboard pages over a live server on SQLite: journeys (graph, live counts, buttons, charts),
the segment filter builder, CSV import with its failure report, people and timelines, calls."""

from __future__ import annotations

import csv
import io
import json
import re
import time
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
from journey_helpers import EXAMPLES, journey_app, seed_customers, voice_seed_journey
from web_support import dashboard, page_csrf, voice_dashboard_app

from renraku.engine.worker import Worker
from renraku.services import flows as flow_service
from renraku.services import journeys
from renraku.services import segments as segment_service
from renraku.services.delivery_events import inbound_sms

PHONE = "+8190{:08d}"
SVG = "{http://www.w3.org/2000/svg}"


def _graph_counts(html: str) -> dict[str, tuple[int, int]]:
    """activity -> (waiting now, completed) as the journey graph on the page shows them."""
    svg = re.search(r"<svg class=\"journey-graph\".*?</svg>", html, re.S)
    assert svg, "the page has no journey graph"
    root = ET.fromstring(svg.group(0))
    return {
        str(g.get("data-activity")): (
            int(g.get("data-waiting", 0)),
            int(g.get("data-completed", 0)),
        )
        for g in root.iter(f"{SVG}g")
        if g.get("data-activity")
    }


def _summary(html: str) -> dict[str, int]:
    pairs = re.findall(r'data-metric="([^"]+)"><div class="n">(\d+)</div>', html)
    return {label: int(n) for label, n in pairs}


def test_a_journey_created_and_published_in_the_dashboard_shows_counts_as_the_clock_moves(
    migrated_sqlite_url: str, tmp_path: Path
) -> None:
    script = {
        "numbers": {PHONE.format(1): {"outcome": "answered", "digits": ["1"]}},
        "default": {"outcome": "no-answer"},
    }
    app = voice_dashboard_app(migrated_sqlite_url, tmp_path, script)
    try:
        app_id, _ = seed_customers(app, 4)
        flow = json.loads((EXAMPLES / "seed-flow-mark-reached.json").read_text(encoding="utf-8"))
        flow_service.create(app, app_id, flow, name="seed-press-one")
        definition = voice_seed_journey()  # MarkReached: pressing 1 counts as reached
        definition["Name"] = "督促: 電話→SMS→メール"
        with dashboard(app) as client:
            csrf = page_csrf(client)
            made = client.post(
                "/ui/journeys", data={"csrf_token": csrf, "definition": json.dumps(definition)}
            )
            assert made.status_code == 303
            journey_url = made.headers["location"].split("?")[0]
            journey_id = journey_url.rsplit("/", 1)[1]
            draft = client.get(journey_url).text
            assert "督促: 電話→SMS→メール" in draft
            assert set(_graph_counts(draft)) == set(definition["Activities"])
            assert 'action="/ui/journeys/' + journey_id + '/publish"' in draft

            published = client.post(f"{journey_url}/publish", data={"csrf_token": csrf})
            assert published.headers["location"] == journey_url
            assert "Journey is now ACTIVE." in client.get(journey_url).text
            worker = Worker(app, batch_size=10)
            worker.run_for(timedelta(minutes=30))
            during = client.get(journey_url).text
            assert _graph_counts(during)["wait-call"][0] == 4  # everyone called, now waiting
            assert _summary(during)["Entered"] == 4
            assert during.count("<td>wait-call</td>") == 4  # the participants table
            assert 'action="/ui/journeys/' + journey_id + '/pause"' in during
            live = client.get(f"{journey_url}/live", headers={"X-Requested-With": "fetch"})
            assert _graph_counts(live.text) == _graph_counts(during)

            worker.run_for(timedelta(days=1))
            after = client.get(journey_url).text
            counts = _graph_counts(after)
            assert counts["call"] == (0, 4)
            assert counts["sms"][1] == 3
            assert counts["email"][1] == 3
            assert ">True 75%<" in after
            assert ">False 25%<" in after
            assert _summary(after)["Finished"] == 4
            assert 'data-category="VOICE" data-series="Reached" data-value="1"' in after
            assert 'class="chart line-chart"' in after
            assert journeys.show(app, app_id, journey_id)["State"] == "COMPLETED"
            charts = client.get("/ui/charts").text  # the journey that ran, by default
            assert 'data-category="SMS" data-series="Sent" data-value="3"' in charts
            assert 'class="chart line-chart"' in charts
            assert _summary(charts)["Finished"] == 4
            listed = client.get("/ui/journeys").text
            assert "督促: 電話→SMS→メール" in listed
            assert "state-COMPLETED" in listed
    finally:
        app.close()


def test_pause_resume_and_cancel_buttons_move_the_journey_between_states(
    migrated_sqlite_url: str,
) -> None:
    app = journey_app(migrated_sqlite_url)
    try:
        app_id, _ = seed_customers(app, 2)
        created = journeys.create(app, app_id, voice_seed_journey())
        journeys.publish(app, app_id, created["Id"])
        with dashboard(app) as client:
            csrf = page_csrf(client)
            base = f"/ui/journeys/{created['Id']}"
            for action, state in (
                ("pause", "PAUSED"),
                ("resume", "ACTIVE"),
                ("cancel", "CANCELLED"),
            ):
                done = client.post(f"{base}/{action}", data={"csrf_token": csrf})
                assert done.status_code == 303
                assert journeys.show(app, app_id, created["Id"])["State"] == state
            again = client.post(f"{base}/resume", data={"csrf_token": csrf})
            assert again.status_code == 409
            assert "CANCELLED" in again.text
    finally:
        app.close()


def test_an_invalid_journey_json_is_refused_with_the_place_of_each_problem(
    migrated_sqlite_url: str,
) -> None:
    app = journey_app(migrated_sqlite_url)
    try:
        seed_customers(app, 1)
        with dashboard(app) as client:
            csrf = page_csrf(client)
            bad_json = client.post("/ui/journeys", data={"csrf_token": csrf, "definition": "{oops"})
            assert bad_json.status_code == 422
            assert "line 1 column 2" in bad_json.text
            bad = client.post(
                "/ui/journeys",
                data={"csrf_token": csrf, "definition": json.dumps({"Activities": {}})},
            )
            assert bad.status_code == 422
            assert "<code>" in bad.text
    finally:
        app.close()


def _preview(client: httpx.Client, csrf: str, where: str) -> str:
    response = client.post(
        "/ui/segments/preview",
        data={"where": where},
        headers={"X-CSRF-Token": csrf, "X-Requested-With": "fetch"},
    )
    assert response.status_code == 200
    return response.text


def test_the_filter_builder_counts_what_the_saved_segment_then_counts(
    migrated_sqlite_url: str,
) -> None:
    app = journey_app(migrated_sqlite_url)
    try:
        app_id, _ = seed_customers(app, 5)
        with dashboard(app) as client:
            csrf = page_csrf(client, "/ui/segments")
            where = "ChannelType = EMAIL and Attributes.CallStatus = PENDING"
            shown = _preview(client, csrf, where)
            count = int(re.search(r'data-count="(\d+)"', shown).group(1))  # type: ignore[union-attr]
            assert count == 5
            assert shown.count('<tr><td class="mono">') == 5
            assert "User1-EMAIL" in shown
            assert "User1-SMS" not in shown
            narrower = _preview(client, csrf, where + " and Attributes.Index = User3-EMAIL")
            assert 'data-count="1"' in narrower
            broken = _preview(client, csrf, "ChannelType = = EMAIL")
            assert 'id="filter-problems"' in broken
            assert "filter:15" in broken

            saved = client.post(
                "/ui/segments", data={"csrf_token": csrf, "name": "メール未対応", "where": where}
            )
            assert saved.status_code == 303
            stored = next(
                s for s in segment_service.list_segments(app, app_id) if s["Name"] == "メール未対応"
            )
            assert segment_service.count(app, app_id, stored["Id"])["Count"] == count
            listed = client.get("/ui/segments").text
            assert "メール未対応" in listed
            links = re.findall(r'class="edit-filter" href="([^"]+)"', listed)
            edit = next(u for u in links if u.endswith("name=" + quote("メール未対応", safe="")))
            builder = client.get(edit.replace("&amp;", "&")).text
            assert 'value="メール未対応"' in builder
            assert 'data-count="5"' in builder  # the saved filter, counted on arrival
            again = client.post(
                "/ui/segments",
                data={"csrf_token": csrf, "name": "メール未対応", "where": "ChannelType = SMS"},
            )
            assert again.status_code == 303
            updated = segment_service.show(app, app_id, stored["Id"])
            assert updated["Version"] == 2
            assert segment_service.count(app, app_id, stored["Id"])["ByChannel"] == {"SMS": 5}
    finally:
        app.close()


CSV_TEXT = (
    "ChannelType,Address,User.UserId,User.UserAttributes.Name,Attributes.CallStatus\n"
    "SMS,+819011112222,yamada,山田 太郎,PENDING\n"
    "EMAIL,yamada@example.jp,yamada,山田 太郎,PENDING\n"
    "SMS,not-a-phone,sato,佐藤 花子,PENDING\n"
    "EMAIL,=cmd|' /C calc'!A0,suzuki,鈴木 一郎,PENDING\n"
)


def _wait_for_job(client: httpx.Client, progress_url: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        page = client.get(progress_url)
        if page.status_code == 303:
            return str(page.headers["location"])
        assert "progress" in page.text or "Done" in page.text
        time.sleep(0.1)
    raise AssertionError("the import did not finish")


def test_an_uploaded_csv_is_imported_and_its_failures_shown_and_downloadable(
    migrated_sqlite_url: str,
) -> None:
    app = journey_app(migrated_sqlite_url)
    try:
        _app_id, _ = seed_customers(app, 1)
        with dashboard(app) as client:
            csrf = page_csrf(client, "/ui/imports")
            sent = client.post(
                "/ui/imports",
                data={"csrf_token": csrf},
                files={"file": ("顧客リスト.csv", CSV_TEXT.encode("utf-8"), "text/csv")},
            )
            assert sent.status_code == 303
            job_url = _wait_for_job(client, sent.headers["location"])
            job = client.get(job_url).text
            assert 'id="job-processed">4<' in job
            assert 'id="job-failures">2<' in job
            assert "not-a-phone" in job
            assert "顧客リスト.csv" in job
            assert "/tmp" not in job  # the server's upload folder is never shown
            download = client.get(job_url + "/failures.csv")
            assert download.headers["content-type"].startswith("text/csv")
            assert "attachment" in download.headers["content-disposition"]
            rows = list(csv.DictReader(io.StringIO(download.text)))
            assert [(r["source"], r["line"], r["column"]) for r in rows] == [
                ("顧客リスト.csv", "4", "Address"),
                ("顧客リスト.csv", "5", "Address"),
            ]
            assert rows[1]["value"].startswith("'=")  # never evaluated by a spreadsheet
            person = client.get("/ui/people/yamada").text
            assert "山田 太郎" in person
            assert "+819011112222" in person
            assert "顧客リスト.csv" in client.get("/ui/imports").text
    finally:
        app.close()


def test_an_upload_without_a_file_or_token_is_refused(migrated_sqlite_url: str) -> None:
    app = journey_app(migrated_sqlite_url)
    try:
        seed_customers(app, 1)
        with dashboard(app) as client:
            csrf = page_csrf(client, "/ui/imports")
            no_token = client.post("/ui/imports", files={"file": ("a.csv", b"x", "text/csv")})
            assert no_token.status_code == 403
            empty = client.post(
                "/ui/imports", data={"csrf_token": csrf}, files={"file": ("a.csv", b"", "text/csv")}
            )
            assert empty.status_code == 422
            assert "the file is empty" in empty.text
            elsewhere = client.get("/ui/imports/uploads/0123456789abcdef")
            assert elsewhere.status_code == 303
            assert elsewhere.headers["location"] == "/ui/imports"
            assert "another server process" in client.get("/ui/imports").text
            assert "another server process" not in client.get("/ui/imports").text  # shown once
    finally:
        app.close()


def test_people_are_found_by_phone_email_or_user_and_their_timeline_tells_everything(
    migrated_sqlite_url: str, tmp_path: Path
) -> None:
    script = {
        "numbers": {PHONE.format(1): {"outcome": "answered", "digits": ["1"]}},
        "default": {"outcome": "busy"},
    }
    app = voice_dashboard_app(migrated_sqlite_url, tmp_path, script)
    try:
        app_id, _ = seed_customers(app, 3)
        flow = json.loads((EXAMPLES / "seed-flow-mark-reached.json").read_text(encoding="utf-8"))
        flow_service.create(app, app_id, flow, name="seed-press-one")
        definition = voice_seed_journey()
        definition["Activities"]["call"]["VOICE"].pop("MarkReached")
        created = journeys.create(app, app_id, definition)
        journeys.publish(app, app_id, created["Id"])
        Worker(app, batch_size=10).run_for(timedelta(days=1))
        inbound_sms(app, "twilio", PHONE.format(2), "+815000000000", "STOP")
        with dashboard(app) as client:
            for query in (PHONE.format(2), "u2@example.com", "User2", "U2@EXAMPLE"):
                found = client.get("/ui/people", params={"q": query}).text
                assert 'href="/ui/people/User2"' in found, query
            assert "Nobody matches" in client.get("/ui/people", params={"q": "nobody"}).text

            pressed = client.get("/ui/people/User1").text
            assert "call.outcome" in pressed
            assert "Outcome ANSWERED · Digits 1" in pressed
            assert "pressed <strong>1</strong>" in pressed
            assert pressed.count('class="transcript"') == 1  # once per call, on its latest event
            assert 'data-kind="sms.' not in pressed  # reached by phone: no SMS

            busy = client.get("/ui/people/User2").text
            assert "Outcome BUSY" in busy
            assert 'data-kind="send.sent"' in busy
            assert 'data-kind="endpoint.opted_out"' in busy
            assert "opted out" in busy
            kinds = re.findall(r'data-kind="([^"]+)"', busy)
            assert kinds.index("endpoint.opted_out") < kinds.index("call.outcome")  # newest first

            calls = client.get("/ui/calls").text
            assert calls.count('href="/ui/calls/') == 3
            assert "No call is in progress." in calls
            call_id = re.search(r'href="/ui/calls/([0-9a-f-]+)"', calls).group(1)  # type: ignore[union-attr]
            detail = client.get(f"/ui/calls/{call_id}").text
            assert 'id="transcript"' in detail or "No transcript." in detail
            assert client.get("/ui/calls/no-such-call").status_code == 404
    finally:
        app.close()


def test_pages_render_at_a_phones_width_and_declare_utf8_and_a_japanese_font() -> None:
    css = (Path(__file__).resolve().parents[2] / "src/renraku/web/static/app.css").read_text()
    assert '"Noto Sans CJK JP"' in css
    assert "@media (max-width: 640px)" in css
    base = (Path(__file__).resolve().parents[2] / "src/renraku/web/templates/base.html").read_text()
    assert '<meta charset="utf-8">' in base
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in base
