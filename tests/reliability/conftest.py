"""Fixtures of the reliability suite: the real Redis at RENRAKU_TEST_REDIS_URL (default
127.0.0.1:6379, database 0), failing under CI=true when it cannot be reached."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# The journey helpers of the integration suite build the seed's customers and journeys.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

REDIS_URL = os.environ.get("RENRAKU_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis at {REDIS_URL} is not reachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def bucket_name(redis_url: str) -> Iterator[str]:
    """A bucket name no other test uses; its Redis key is removed afterwards."""
    import redis

    from renraku.channels.buckets import PREFIX

    name = "test-" + uuid.uuid4().hex[:12]
    yield name
    client = redis.Redis.from_url(redis_url)
    client.delete(PREFIX + name)
    client.close()
