"""Token buckets shared by every worker: in the database (default) or in Redis.

Provider rate limits (``[policies] rate_limits``), journey pacing (``MessagesPerSecond``) and
channel rates (``[journeys] channel_rates``) take tokens from named buckets. By default a bucket
is a row in the database, refilled and taken in one statement or under a row lock, so every
process on every host sharing the database shares the budget. When ``RENRAKU_REDIS_URL`` is set,
buckets live in Redis instead: each take is one Lua script, atomic on the Redis server, which
keeps the database free of the hottest rows when many workers send at high rates.

Both backends take the caller's ``now`` (seconds; the journey clock for pacing, so a virtual
clock paces virtual time) and never move a bucket's time backwards.

When Redis cannot be reached (refused, timed out, restarting), each take falls back to the
database buckets, which every process shares as well, so limits keep holding and nothing waits
on Redis: an error is logged once per outage (``renraku.buckets``), Redis is tried again every
``retry_seconds``, and its return is logged too. While some processes reach Redis and others do
not, each group keeps its own budget: at most twice the limit for that time.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from renraku.store import Store

PREFIX = "renraku:bucket:"
log = logging.getLogger("renraku.buckets")
T = TypeVar("T")

# KEYS[1] bucket; ARGV: rate, burst, now, ttl. Returns "0" when a token was taken, else the
# seconds until one is due (as a string: Lua numbers would come back truncated to integers).
_TAKE_ONE = """
local rate, burst, now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local t = tonumber(redis.call('HGET', KEYS[1], 't'))
local u = tonumber(redis.call('HGET', KEYS[1], 'u'))
if t == nil or u == nil then t = burst; u = now end
local level = math.min(burst, t + math.max(0, now - u) * rate)
local at = math.max(now, u)
if level >= 1 then
  redis.call('HSET', KEYS[1], 't', tostring(level - 1), 'u', tostring(at))
  redis.call('EXPIRE', KEYS[1], ttl)
  return '0'
end
redis.call('HSET', KEYS[1], 't', tostring(level), 'u', tostring(at))
redis.call('EXPIRE', KEYS[1], ttl)
return tostring(math.max((1 - level) / rate, 0.001))
"""

# KEYS[1] bucket; ARGV: wanted, rate, burst, now, ttl. Returns the tokens granted (0..wanted).
_TAKE_MANY = """
local wanted, rate, burst, now, ttl =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local t = tonumber(redis.call('HGET', KEYS[1], 't'))
local u = tonumber(redis.call('HGET', KEYS[1], 'u'))
if t == nil or u == nil then t = burst; u = now end
local level = math.min(burst, t + math.max(0, now - u) * rate)
local granted = math.max(0, math.min(wanted, math.floor(level)))
redis.call('HSET', KEYS[1], 't', tostring(level - granted), 'u', tostring(math.max(now, u)))
redis.call('EXPIRE', KEYS[1], ttl)
return granted
"""


class Buckets(Protocol):
    """Where shared token buckets live."""

    name: str

    def take_one(
        self, conn: Connection | None, bucket: str, *, rate: float, burst: float, now: float
    ) -> float:
        """Take one token; 0.0 when taken, else the seconds until one is due."""
        ...

    def take_up_to(
        self,
        conn: Connection | None,
        bucket: str,
        wanted: int,
        *,
        rate: float,
        burst: float,
        now: float,
    ) -> int:
        """Take up to ``wanted`` tokens; returns how many were granted."""
        ...


class DatabaseBuckets:
    """Buckets as rows of the store (the caller's open transaction ``conn``)."""

    name = "database"

    def __init__(self, store: Store) -> None:
        self.store = store

    def take_one(
        self, conn: Connection | None, bucket: str, *, rate: float, burst: float, now: float
    ) -> float:
        from renraku.store import deliverability as dv

        if conn is None:
            with self.store.begin() as own:
                return dv.take_token(own, bucket, rate=rate, burst=burst, now=now)
        return dv.take_token(conn, bucket, rate=rate, burst=burst, now=now)

    def take_up_to(
        self,
        conn: Connection | None,
        bucket: str,
        wanted: int,
        *,
        rate: float,
        burst: float,
        now: float,
    ) -> int:
        from renraku.store import sends as send_store

        if conn is None:
            with self.store.begin() as own:
                return send_store.take_tokens(own, bucket, wanted, rate=rate, burst=burst, at=now)
        return send_store.take_tokens(conn, bucket, wanted, rate=rate, burst=burst, at=now)


class RedisBuckets:
    """Buckets as Redis hashes ``renraku:bucket:<name>`` (fields t: tokens, u: updated at),
    each take one atomic Lua script. Idle buckets expire after ``ttl_seconds``. With a
    ``fallback``, takes go there while Redis cannot be reached (see the module docstring)."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: int = 86_400,
        client: Any = None,
        fallback: Buckets | None = None,
        retry_seconds: float = 5.0,
    ) -> None:
        import redis

        self.url = url
        self.ttl_seconds = ttl_seconds
        self.client = client or redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
        )
        self._one = self.client.register_script(_TAKE_ONE)
        self._many = self.client.register_script(_TAKE_MANY)
        self.fallback = fallback
        self.retry_seconds = retry_seconds
        self.down_until: float | None = None  # monotonic time of the next try while Redis is down
        kw = self.client.connection_pool.connection_kwargs  # named without any password
        self._where = (
            f"{kw.get('host', kw.get('path', '?'))}:{kw.get('port', '')}/{kw.get('db', 0)}"
        )

    def _guarded(self, in_redis: Callable[[], T], elsewhere: Callable[[Buckets], T]) -> T:
        import redis

        if self.fallback is None:
            return in_redis()
        if self.down_until is not None and time.monotonic() < self.down_until:
            return elsewhere(self.fallback)
        try:
            out = in_redis()
        except redis.RedisError as exc:
            if self.down_until is None:
                log.error(
                    "Redis at %s cannot be reached (%s: %s): token buckets are taken from the "
                    "%s until it answers again (tried every %g s)",
                    self._where,
                    type(exc).__name__,
                    exc,
                    self.fallback.name,
                    self.retry_seconds,
                )
            self.down_until = time.monotonic() + self.retry_seconds
            return elsewhere(self.fallback)
        if self.down_until is not None:
            log.warning("Redis at %s answers again: token buckets are back in Redis", self._where)
            self.down_until = None
        return out

    def take_one(
        self, conn: Connection | None, bucket: str, *, rate: float, burst: float, now: float
    ) -> float:
        def in_redis() -> float:
            out = self._one(keys=[PREFIX + bucket], args=[rate, burst, now, self.ttl_seconds])
            return float(out.decode() if isinstance(out, bytes) else out)

        return self._guarded(
            in_redis, lambda b: b.take_one(conn, bucket, rate=rate, burst=burst, now=now)
        )

    def take_up_to(
        self,
        conn: Connection | None,
        bucket: str,
        wanted: int,
        *,
        rate: float,
        burst: float,
        now: float,
    ) -> int:
        if wanted <= 0:
            return 0

        def in_redis() -> int:
            args = [wanted, rate, burst, now, self.ttl_seconds]
            return int(self._many(keys=[PREFIX + bucket], args=args))

        return self._guarded(
            in_redis,
            lambda b: b.take_up_to(conn, bucket, wanted, rate=rate, burst=burst, now=now),
        )

    def close(self) -> None:
        self.client.close()


_BY_STORE: weakref.WeakKeyDictionary[Any, Buckets] = weakref.WeakKeyDictionary()


def use(store: Store, redis_url: str | None) -> Buckets:
    """Choose the buckets of ``store``'s processes: Redis when ``redis_url`` is set (with the
    database as the fallback while Redis cannot be reached)."""
    database = DatabaseBuckets(store)
    chosen: Buckets = RedisBuckets(redis_url, fallback=database) if redis_url else database
    _BY_STORE[store] = chosen
    return chosen


def for_store(store: Store) -> Buckets:
    """The buckets chosen for ``store`` (the database when none was chosen)."""
    found = _BY_STORE.get(store)
    if found is None:
        found = _BY_STORE[store] = DatabaseBuckets(store)
    return found
