"""Token buckets are shared by every process: four processes taking from one bucket at one
instant together get exactly its burst, and exactly ``rate`` more a second later, whether the
buckets live in PostgreSQL or in Redis (RENRAKU_REDIS_URL)."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Callable

import pytest
from journey_helpers import journey_app, seed_customers, voice_seed_journey

from renraku.app import build_app
from renraku.channels import buckets
from renraku.channels.buckets import Buckets, DatabaseBuckets, RedisBuckets
from renraku.engine.worker import Worker
from renraku.services import journeys
from renraku.settings import Settings
from renraku.store import Store

T0 = 1_800_000_000.0
PROCESSES = 4


def _hammer(make: Callable[[], Buckets], bucket: str, at: float, many: bool) -> int:
    """In ``PROCESSES`` forked processes, take from ``bucket`` at time ``at``; tokens granted."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()

    def child() -> None:
        b = make()
        if many:
            got = sum(
                b.take_up_to(None, bucket, 7, rate=10.0, burst=50.0, now=at) for _ in range(6)
            )
        else:
            got = sum(
                1 for _ in range(20) if b.take_one(None, bucket, rate=10.0, burst=50.0, now=at) == 0
            )
        out.put(got)

    procs = [ctx.Process(target=child) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    total = sum(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    return total


def _database(pg_url: str) -> Callable[[], Buckets]:
    return lambda: DatabaseBuckets(Store.open(pg_url, migrate_schema=False))


@pytest.mark.parametrize("many", [False, True], ids=["one-at-a-time", "up-to-n"])
def test_postgres_buckets_hold_across_processes(pg_url: str, many: bool) -> None:
    Store.open(pg_url).close()  # migrate once
    bucket = "b-" + uuid.uuid4().hex[:8]
    assert _hammer(_database(pg_url), bucket, T0, many) == 50  # the burst, not 4 x the burst
    assert _hammer(_database(pg_url), bucket, T0, many) == 0  # nothing refilled at the same time
    assert _hammer(_database(pg_url), bucket, T0 + 1.0, many) == 10  # one second of rate


@pytest.mark.parametrize("many", [False, True], ids=["one-at-a-time", "up-to-n"])
def test_redis_buckets_hold_across_processes(redis_url: str, bucket_name: str, many: bool) -> None:
    def make() -> Buckets:
        return RedisBuckets(redis_url)

    assert _hammer(make, bucket_name, T0, many) == 50
    assert _hammer(make, bucket_name, T0, many) == 0
    assert _hammer(make, bucket_name, T0 + 1.0, many) == 10
    # time never runs backwards: an older timestamp neither refills nor rewinds the bucket
    assert _hammer(make, bucket_name, T0 - 100.0, many) == 0
    assert _hammer(make, bucket_name, T0 + 2.0, many) == 10


def test_redis_take_one_says_how_long_until_the_next_token(
    redis_url: str, bucket_name: str
) -> None:
    b = RedisBuckets(redis_url)
    assert b.take_one(None, bucket_name, rate=4.0, burst=1.0, now=T0) == 0.0
    assert b.take_one(None, bucket_name, rate=4.0, burst=1.0, now=T0) == pytest.approx(0.25)
    assert b.take_one(None, bucket_name, rate=4.0, burst=1.0, now=T0 + 0.125) == pytest.approx(
        0.125
    )
    assert b.take_one(None, bucket_name, rate=4.0, burst=1.0, now=T0 + 0.25) == 0.0


def test_renraku_redis_url_moves_journey_pacing_to_redis(
    pg_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis

    app = journey_app(pg_url)
    try:
        app_id, _ = seed_customers(app, 12)
        d = voice_seed_journey()
        d["Limits"] = {"MessagesPerSecond": 5}
        journey_id = journeys.create(app, app_id, d)["Id"]
        journeys.publish(app, app_id, journey_id)
    finally:
        app.close()
    monkeypatch.setenv("RENRAKU_REDIS_URL", redis_url)
    settings = Settings(
        db=pg_url,
        clock=app.settings.clock,
        journeys=app.settings.journeys,
    )
    assert settings.redis_url == redis_url
    paced = build_app(settings, migrate=False)
    key = f"{buckets.PREFIX}journey:{app_id}:{journey_id}"
    client = redis.Redis.from_url(redis_url)
    try:
        assert isinstance(buckets.for_store(paced.store), RedisBuckets)
        Worker(paced).run_until_idle()
        assert client.exists(key)  # the budget was taken from Redis, not from the database
        metrics = journeys.metrics(paced, app_id, journey_id)["Metrics"]
        assert int(metrics["SENT"]) == 5  # one second's budget at the first instant
        assert int(metrics["PACED"]) == 7
    finally:
        client.delete(key)
        client.close()
        paced.close()
