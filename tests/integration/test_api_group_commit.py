"""UpdateEndpoint in groups: many requests' writes in one transaction, each answered as if alone.

On SQLite and PostgreSQL: updates of one endpoint in a group apply in order, a refused update
writes nothing and refuses only its own request, a group whose transaction fails writes nothing;
over HTTP, concurrent boto3 UpdateEndpoint calls are all written and answered.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from api_support import app_key, live_server, make_app, pinpoint_client
from sqlalchemy.exc import IntegrityError

from renraku.errors import InvalidInput
from renraku.services.endpoints import EndpointUpdate, update_endpoints_together
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store


def _app_id(app: object) -> str:
    with app.store.begin() as conn:  # type: ignore[attr-defined]
        return str(app_store.create_app(conn, "grouped", now=app.now_iso())["Id"])  # type: ignore[attr-defined]


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
