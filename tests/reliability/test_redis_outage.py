"""Redis going away under the Redis token buckets (RENRAKU_REDIS_URL): a redis-server of the
test's own is stopped and started again. Takes fall back to the database buckets with one clear
logged error, come back to Redis when it answers, and a journey paced by MessagesPerSecond runs
through the outage with nobody lost, nothing sent twice and the pace held."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from itertools import accumulate

import pytest
from harness import assert_everyone_finished_and_each_message_sent_once, seed_journey
from sqlalchemy import select

from renraku.app import build_app
from renraku.channels import buckets
from renraku.channels.buckets import DatabaseBuckets, RedisBuckets
from renraku.domain.timefmt import parse_iso
from renraku.engine.config import JourneySettings
from renraku.engine.worker import Worker
from renraku.settings import ClockSettings, Settings
from renraku.store import Store
from renraku.store.sends import sends

T0 = 1_800_000_000.0
START = "2026-03-05T01:00:00.000Z"


class RedisServer:
    """A redis-server on a free loopback port, in memory only, that the test stops and starts."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            assert self.process.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(20)
            self.process = None


@pytest.fixture
def redis_server(redis_url: str) -> Iterator[RedisServer]:  # redis_url: skip where none runs
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_takes_fall_back_to_the_database_while_redis_is_down_and_return_when_it_answers(
    pg_url: str, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.open(pg_url)
    name = "outage-" + uuid.uuid4().hex[:8]
    b = RedisBuckets(
        redis_server.url,
        fallback=DatabaseBuckets(store),
        retry_seconds=0.2,
        check_seconds=0.1,
        hold_seconds=1.0,
    )
    try:
        assert b.take_up_to(None, name, 7, rate=10.0, burst=50.0, now=T0) == 7  # in Redis
        redis_server.stop()
        with caplog.at_level(logging.WARNING, logger="renraku.buckets"):
            # the signal is raised; database takes begin once every process has read it
            assert b.take_up_to(None, name, 20, rate=10.0, burst=50.0, now=T0) == 0
            assert 0 < b.take_one(None, name + "-one", rate=10.0, burst=1.0, now=T0) <= 0.2
            time.sleep(0.25)
            got = [b.take_up_to(None, name, 20, rate=10.0, burst=50.0, now=T0) for _ in range(4)]
            assert got == [20, 20, 10, 0]  # the database bucket: its own burst, and no more
            one = name + "-one"  # one token at a time: taken, then the wait for the next
            assert b.take_one(None, one, rate=10.0, burst=1.0, now=T0) == 0.0
            assert b.take_one(None, one, rate=10.0, burst=1.0, now=T0) == pytest.approx(0.1)
            errors = [r for r in caplog.records if r.levelno == logging.ERROR]
            assert len(errors) == 1  # once per outage, not once per take
            assert "cannot be reached" in errors[0].getMessage()
            assert f"127.0.0.1:{redis_server.port}/0" in errors[0].getMessage()
            assert "database" in errors[0].getMessage()

            redis_server.start()
            time.sleep(0.25)  # past retry_seconds: the next take asks Redis again
            # Redis answers, but the signal stands until it lapses: still the database
            assert b.take_up_to(None, name, 50, rate=10.0, burst=50.0, now=T0) == 0
            assert any("answers again" in r.getMessage() for r in caplog.records)
            assert b.client.exists(buckets.PREFIX + name) == 0  # restarted empty, not taken
            time.sleep(1.1)  # past hold_seconds: nobody renewed the signal
            # back in Redis: restarted empty, its bucket starts full (the database one is empty)
            assert b.take_up_to(None, name, 50, rate=10.0, burst=50.0, now=T0) == 50
            assert b.client.exists(buckets.PREFIX + name) == 1
    finally:
        b.close()
        store.close()


def test_while_one_process_cannot_reach_redis_every_process_takes_from_the_database(
    store: Store, redis_url: str, bucket_name: str, redis_server: RedisServer
) -> None:
    """Two processes (each its own client and view of the signal) share one budget: one reaches
    Redis, the other has lost it. Together they get what one bucket grants, not twice that."""
    timing = {"retry_seconds": 0.2, "check_seconds": 0.1, "hold_seconds": 1.0}
    up = RedisBuckets(redis_url, fallback=DatabaseBuckets(store), **timing)
    down = RedisBuckets(redis_server.url, fallback=DatabaseBuckets(store), **timing)
    key = buckets.PREFIX + bucket_name

    def both(at: float) -> int:
        return sum(
            b.take_up_to(None, bucket_name, 10, rate=10.0, burst=10.0, now=at) for b in (up, down)
        )

    try:
        assert up.take_up_to(None, bucket_name, 4, rate=10.0, burst=10.0, now=T0) == 4
        redis_server.stop()
        # the signal is raised, and the database grants nothing until `up` has read it
        assert down.take_up_to(None, bucket_name, 10, rate=10.0, burst=10.0, now=T0) == 0
        time.sleep(0.25)
        in_redis = up.client.hgetall(key)
        granted = [both(T0 + 1 + step / 2) for step in range(8)]
        # one bucket in the database: its burst, then its rate (5 a half second) between the two
        assert granted == [10] + [5] * 7
        assert up.client.hgetall(key) == in_redis  # `up` reached Redis and left it alone

        redis_server.start()
        time.sleep(0.25)
        assert both(T0 + 5) == 5  # `down` answers, but the signal stands: still the database
        time.sleep(1.1)  # nobody renews the signal: it lapses and both return to Redis
        assert up.take_up_to(None, bucket_name, 10, rate=10.0, burst=10.0, now=T0 + 5) == 10
        assert up.client.hgetall(key) != in_redis
    finally:
        up.close()
        down.close()


def test_a_paced_journey_runs_through_a_redis_outage_losing_and_doubling_nothing(
    pg_url: str, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    rate, users = 5, 30
    settings = Settings(
        db=pg_url,
        redis_url=redis_server.url,
        clock=ClockSettings(mode="virtual", virtual_start=START),
        journeys=JourneySettings(record_channels=["VOICE", "SMS", "EMAIL"]),
    )
    app = build_app(settings)
    try:
        assert isinstance(buckets.for_store(app.store), RedisBuckets)
        _, _, user_ids, pressed = seed_journey(app, users, {"MessagesPerSecond": rate})
        worker = Worker(app)
        worker.run_for(timedelta(seconds=2))  # the first calls are paced in Redis
        with app.store.connect() as conn:
            before = len(conn.execute(select(sends.c.key)).all())
        assert 0 < before < users
        redis_server.stop()
        with caplog.at_level(logging.ERROR, logger="renraku.buckets"):
            worker.run_for(timedelta(days=1))
        assert [r.getMessage()[:30] for r in caplog.records] == [
            f"Redis at 127.0.0.1:{redis_server.port}/0 cann"[:30]
        ]

        assert_everyone_finished_and_each_message_sent_once(app, user_ids, pressed)
        with app.store.connect() as conn:
            times = sorted(
                parse_iso(r[0]).timestamp() for r in conn.execute(select(sends.c.created_at))
            )
        assert len(times) == users + 2 * (users - len(pressed))
        # the pace held: by any moment no more than the burst (once per backend: Redis, then
        # the database) plus `rate` a second since the first send
        counts = list(accumulate(1 for _ in times))
        assert all(
            n <= 2 * rate + rate * (t - times[0]) for n, t in zip(counts, times, strict=True)
        )
        assert times[-1] - times[0] >= (len(times) - 2 * rate) / rate  # and it did pace
    finally:
        app.close()
