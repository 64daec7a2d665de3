"""The Pinpoint surface in front of FastAPI: its own 500s and metrics, and the server's pool
pinging only connections that sat idle."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from api_support import app_key, live_server, make_app, pinpoint_client
from sqlalchemy import text

from renraku.api.aws.pinpoint import calls
from renraku.api.server import ping_when_idle
from renraku.store import apps as app_store
from renraku.store import make_engine


def test_an_unexpected_failure_is_a_pinpoint_500_and_requests_are_counted(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(sqlite_url, tmp_path, public_metrics=True)
    try:
        with app.store.begin() as conn:
            app_id = str(app_store.create_app(conn, "lean", now=app.now_iso())["Id"])
        key = app_key(app, app_id)

        def broken(call: calls.Call) -> calls.Payload:
            raise RuntimeError("disk on fire")

        monkeypatch.setitem(calls.HANDLERS, "GetApp", broken)
        with live_server(app) as url:
            client = pinpoint_client(url, key)
            client.update_endpoint(
                ApplicationId=app_id,
                EndpointId="e1",
                EndpointRequest={"ChannelType": "EMAIL", "Address": "a@example.com"},
            )
            raw: dict[str, object] = {}

            def keep(http_response: object, **_: object) -> None:
                raw["response"] = http_response

            client.meta.events.register("after-call.pinpoint.GetApp", keep)
            with pytest.raises(client.exceptions.ClientError) as refused:
                client.get_app(ApplicationId=app_id)
            metrics = httpx.get(f"{url}/metrics").text
        error = refused.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert error["Error"]["Code"] == "InternalServerErrorException"
        assert "disk on fire" not in json.dumps(error)  # no internals leak
        assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == (
            "InternalServerErrorException"
        )
        assert (
            'renraku_http_requests_total{method="PUT",route="pinpoint:UpdateEndpoint",'
            'status="202"} 1.0' in metrics
        )
        # boto3 retries a 500: each attempt counted and timed.
        assert 'renraku_http_requests_total{method="GET",route="pinpoint:GetApp",status="500"}' in (
            metrics
        )
        assert 'renraku_http_request_duration_seconds_count{route="pinpoint:GetApp"}' in metrics
    finally:
        app.close()


def test_the_pool_pings_only_idle_connections_and_replaces_dead_ones(pg_url: str) -> None:
    # The server's PostgreSQL engine (SQLite has no connection a server could close).
    engine = make_engine(pg_url, pool_pre_ping=False, pool_size=1, max_overflow=0)
    admin = make_engine(pg_url)
    pings: list[object] = []
    real_ping = engine.dialect.do_ping

    def counted(dbapi: object) -> bool:
        pings.append(dbapi)
        return bool(real_ping(dbapi))

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    try:
        ping_when_idle(engine, idle_seconds=60)
        for _ in range(3):  # back in use at once: no ping
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
        assert pings == []
        engine.dispose()
        ping_when_idle(engine, idle_seconds=0)  # every checkout now counts as after idling
        with engine.connect() as conn:
            backend = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with admin.connect() as other:  # the database ends the pooled connection's session
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        with engine.connect() as conn:  # pinged, found dead, replaced before use
            assert conn.execute(text("SELECT 2")).scalar() == 2
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != backend
        assert len(pings) >= 2
    finally:
        engine.dispose()
        admin.dispose()
