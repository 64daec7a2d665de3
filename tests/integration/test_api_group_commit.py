"""UpdateEndpoint in groups: many requests' writes in one transaction, each answered as if alone.

On SQLite and PostgreSQL: updates of one endpoint in a group apply in order, a refused update
writes nothing and refuses only its own request, a group whose transaction fails writes nothing;
over HTTP, concurrent boto3 UpdateEndpoint calls are all written and answered. Reads
(GetEndpoint, GetUserEndpoints) and PutEvents are grouped the same way: each request is answered
as if it ran alone, and a refused PutEvents records nothing of its own.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from api_support import app_key, live_server, make_app, pinpoint_client
from journey_helpers import delivered, journey_app, seed_customers
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from renraku.engine.worker import Worker
from renraku.errors import InvalidInput, NotFound
from renraku.services import journeys
from renraku.services.endpoints import (
    EndpointUpdate,
    endpoints_together,
    get_endpoint,
    update_endpoint,
    update_endpoints_together,
    user_endpoints,
    users_endpoints_together,
)
from renraku.services.events import put_events_together
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store


def _app_id(app: object, name: str = "grouped") -> str:
    with app.store.begin() as conn:  # type: ignore[attr-defined]
        return str(app_store.create_app(conn, name, now=app.now_iso())["Id"])  # type: ignore[attr-defined]


def test_a_group_applies_updates_in_order_and_refuses_only_the_bad_one(
    db_url: str, tmp_path: Path
) -> None:
    app = make_app(db_url, tmp_path)
    try:
        app_id = _app_id(app)
        outcomes = update_endpoints_together(
            app,
            [
                EndpointUpdate(app_id, "e1", {"ChannelType": "EMAIL", "Address": "a@example.com"}),
                EndpointUpdate(app_id, "e2", {"ChannelType": "SMS", "Address": "not a phone"}),
                EndpointUpdate(app_id, "e1", {"Attributes": {"CallStatus": ["COMPLETED"]}}),
                EndpointUpdate(app_id, "e3", {"ChannelType": "EMAIL", "Address": "c@example.com"}),
                EndpointUpdate(app_id, "e4", {"Address": "d@example.com"}),
            ],
        )
        assert [type(o).__name__ for o in outcomes] == [
            "Endpoint",
            "InvalidInput",
            "Endpoint",
            "Endpoint",
            "InvalidInput",
        ]
        bad_phone, missing_channel = outcomes[1], outcomes[4]
        assert isinstance(bad_phone, InvalidInput)
        assert "EndpointRequest.Address" in str(bad_phone)
        assert isinstance(missing_channel, InvalidInput)
        assert "EndpointRequest.ChannelType" in str(missing_channel)
        with app.store.connect() as conn:
            stored = {
                ep.id: ep for ep in endpoint_store.by_ids(conn, app_id, ["e1", "e2", "e3", "e4"])
            }
        assert sorted(stored) == ["e1", "e3"]
        # The second update of e1 saw the first: address kept, attribute added.
        assert stored["e1"].address == "a@example.com"
        assert stored["e1"].attributes == {"CallStatus": ["COMPLETED"]}
    finally:
        app.close()


def test_a_group_whose_transaction_fails_writes_nothing(db_url: str, tmp_path: Path) -> None:
    app = make_app(db_url, tmp_path)
    try:
        app_id = _app_id(app)
        with pytest.raises(IntegrityError):
            update_endpoints_together(
                app,
                [
                    EndpointUpdate(
                        app_id, "kept-out", {"ChannelType": "EMAIL", "Address": "k@x.io"}
                    ),
                    # No such application: the foreign key fails the whole transaction.
                    EndpointUpdate(
                        "no-such-app", "e", {"ChannelType": "EMAIL", "Address": "e@x.io"}
                    ),
                ],
            )
        with app.store.connect() as conn:
            assert endpoint_store.count(conn, app_id) == 0
    finally:
        app.close()


def test_concurrent_update_endpoint_calls_are_each_written_and_answered(
    db_url: str, tmp_path: Path
) -> None:
    app = make_app(db_url, tmp_path)
    try:
        app_id = _app_id(app)
        key = app_key(app, app_id)
        with live_server(app) as url:
            clients = [pinpoint_client(url, key) for _ in range(8)]

            def update(n: int) -> int:
                response = clients[n % 8].update_endpoint(
                    ApplicationId=app_id,
                    EndpointId=f"ep{n}",
                    EndpointRequest={
                        "ChannelType": "EMAIL",
                        "Address": f"user{n}@example.com",
                        "User": {"UserId": f"user{n % 10}"},
                        "Attributes": {"CallStatus": ["Pending"]},
                    },
                )
                return int(response["ResponseMetadata"]["HTTPStatusCode"])

            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(update, range(80)))
            assert statuses == [202] * 80
            users = clients[0].get_user_endpoints(ApplicationId=app_id, UserId="user3")
            assert sorted(e["Id"] for e in users["EndpointsResponse"]["Item"]) == [
                f"ep{n}" for n in sorted(range(3, 80, 10), key=str)
            ]
        with app.store.connect() as conn:
            assert endpoint_store.count(conn, app_id) == 80
    finally:
        app.close()


def _endpoints(app: object, app_id: str, *specs: tuple[str, str, str]) -> None:
    for endpoint_id, user_id, channel in specs:
        address = f"{endpoint_id}@example.com" if channel == "EMAIL" else "+14155550100"
        update_endpoint(
            app,  # type: ignore[arg-type]
            app_id,
            endpoint_id,
            {"ChannelType": channel, "Address": address, "User": {"UserId": user_id}},
        )


def test_grouped_reads_answer_each_request_as_if_alone(db_url: str, tmp_path: Path) -> None:
    app = make_app(db_url, tmp_path)
    try:
        first, second = _app_id(app), _app_id(app, "other")
        _endpoints(app, first, ("b", "u1", "SMS"), ("a", "u1", "EMAIL"), ("c", "u2", "EMAIL"))
        _endpoints(app, second, ("a", "u1", "SMS"))
        users = users_endpoints_together(
            app, [(first, "u1"), (second, "u1"), (first, "nobody"), (first, "u2"), (first, "u1")]
        )
        alone = [user_endpoints(app, first, "u1"), user_endpoints(app, second, "u1")]
        assert [[ep.id for ep in found] for found in users[:2]] == [["a", "b"], ["a"]]
        assert users[0] == alone[0]
        assert users[1] == alone[1]
        assert users[4] == alone[0]
        assert users[1][0].channel_type == "SMS"  # the second application's own endpoint
        assert isinstance(users[2], NotFound)
        assert "nobody" in str(users[2])
        assert [ep.id for ep in users[3]] == ["c"]  # type: ignore[union-attr]
        single = endpoints_together(app, [(second, "a"), (first, "zz"), (first, "a")])
        assert single[0] == get_endpoint(app, second, "a")
        assert single[2] == get_endpoint(app, first, "a")
        assert isinstance(single[1], NotFound)
        assert "zz" in str(single[1])
    finally:
        app.close()


def test_grouped_put_events_refuse_only_the_bad_request(db_url: str, tmp_path: Path) -> None:
    app = make_app(db_url, tmp_path)
    try:
        app_id = _app_id(app)
        _endpoints(app, app_id, ("e1", "u1", "EMAIL"))

        def batch(endpoint_id: str, event_type: str) -> dict[str, object]:
            return {"BatchItem": {endpoint_id: {"Events": {"ev": {"EventType": event_type}}}}}

        outcomes = put_events_together(
            app,
            [
                (app_id, batch("e1", "signed.up")),
                (app_id, batch("e1", "")),  # no EventType: refused alone
                (app_id, batch("missing", "signed.up")),
                (app_id, batch("e1", "paid")),
                # By user (the flat form); an endpoint id that looks like a user key is no user.
                (app_id, [{"UserId": "u1", "EventType": "by.user"}]),
                (app_id, batch("u:u1", "mistaken")),
            ],
        )
        assert outcomes[4]["Results"] == {"0": {"StatusCode": 202, "Message": "Accepted"}}  # type: ignore[index]
        assert outcomes[5]["Results"]["u:u1/ev"]["StatusCode"] == 404  # type: ignore[index]
        assert isinstance(outcomes[1], InvalidInput)
        assert "EventType" in str(outcomes[1])
        assert outcomes[0]["Results"] == {"e1/ev": {"StatusCode": 202, "Message": "Accepted"}}  # type: ignore[index]
        assert outcomes[2]["Results"]["missing/ev"]["StatusCode"] == 404  # type: ignore[index]
        with app.store.connect() as conn:
            kinds = conn.execute(
                text(
                    "SELECT data FROM events WHERE app_id = :a AND kind = 'custom.event' "
                    "ORDER BY seq"
                ),
                {"a": app_id},
            ).all()
        recorded = [json.loads(d) if isinstance(d, str) else d for (d,) in kinds]
        assert [d["EventType"] for d in recorded] == ["signed.up", "paid", "by.user"]
    finally:
        app.close()


def test_concurrent_reads_and_events_over_http_are_each_answered(
    db_url: str, tmp_path: Path
) -> None:
    app = make_app(db_url, tmp_path)
    try:
        app_id = _app_id(app)
        _endpoints(app, app_id, *[(f"ep{n}", f"user{n}", "EMAIL") for n in range(10)])
        key = app_key(app, app_id)
        with live_server(app) as url:
            clients = [pinpoint_client(url, key) for _ in range(8)]

            def call(n: int) -> list[str]:
                client, user = clients[n % 8], f"user{n % 12}"
                if n % 3 == 0:
                    try:
                        found = client.get_user_endpoints(ApplicationId=app_id, UserId=user)
                    except client.exceptions.NotFoundException:
                        return ["missing"]
                    return [e["Id"] for e in found["EndpointsResponse"]["Item"]]
                if n % 3 == 1:
                    try:
                        one = client.get_endpoint(ApplicationId=app_id, EndpointId=f"ep{n % 12}")
                    except client.exceptions.NotFoundException:
                        return ["missing"]
                    return [one["EndpointResponse"]["Id"]]
                response = client.put_events(
                    ApplicationId=app_id,
                    EventsRequest={
                        "BatchItem": {
                            f"ep{n % 12}": {
                                "Endpoint": {},
                                "Events": {f"e{n}": {"EventType": "t", "Timestamp": "2026-01-01"}},
                            }
                        }
                    },
                )
                item = response["EventsResponse"]["Results"][f"ep{n % 12}"]
                return [str(item["EventsItemResponse"][f"e{n}"]["StatusCode"])]

            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(call, range(96)))
        for n, answer in enumerate(answers):
            known = n % 12 < 10
            if n % 3 == 0 or n % 3 == 1:
                assert answer == ([f"ep{n % 12}"] if known else ["missing"])
            else:
                assert answer == (["202"] if known else ["404"])
    finally:
        app.close()


def test_grouped_put_events_wake_the_participants_waiting_for_them(db_url: str) -> None:
    app = journey_app(db_url)
    try:
        app_id, _ = seed_customers(app, 3)
        listen = {
            "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": ["clicked"]}}
        }
        definition = {
            "Name": "wait for a click",
            "StartCondition": {"SegmentStartCondition": {"SegmentId": "seed-customers"}},
            "StartActivity": "listen",
            "Activities": {
                "listen": {
                    "WaitForEvent": {
                        "EventFilter": listen,
                        "Timeout": {"WaitFor": "P1D"},
                        "NextActivity": "sms",
                        "TimeoutActivity": "mail",
                    }
                },
                "sms": {"SMS": {"TemplateName": "seed-sms"}},
                "mail": {"EMAIL": {"TemplateName": "seed-email"}},
            },
        }
        journey_id = journeys.create(app, app_id, definition)["Id"]
        journeys.publish(app, app_id, journey_id)
        worker = Worker(app)
        worker.run_for(timedelta(hours=1))
        clicked = {"EventType": "clicked", "Timestamp": app.now_iso()}
        outcomes = put_events_together(
            app,
            [
                (app_id, {"BatchItem": {"User2-EMAIL": {"Events": {"e1": clicked}}}}),
                (app_id, [{"UserId": "User3", **clicked}]),
                (app_id, [{"UserId": "User1"}]),  # no EventType: refused, wakes nobody
            ],
        )
        assert isinstance(outcomes[2], InvalidInput)
        worker.run_for(timedelta(days=2))
        assert sorted(r.endpoint_id for r in delivered(app, "SMS")) == ["User2-SMS", "User3-SMS"]
        assert [r.endpoint_id for r in delivered(app, "EMAIL")] == ["User1-EMAIL"]
    finally:
        app.close()
