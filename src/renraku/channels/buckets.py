"""Token buckets shared by every worker: in the database (default) or in Redis.

Provider rate limits (``[policies] rate_limits``), journey pacing (``MessagesPerSecond``) and
channel rates (``[journeys] channel_rates``) take tokens from named buckets. By default a bucket
is a row in the database, refilled and taken in one statement or under a row lock, so every
process on every host sharing the database shares the budget. When ``RENRAKU_REDIS_URL`` is set,
buckets live in Redis instead: each take is one Lua script, atomic on the Redis server, which
keeps the database free of the hottest rows when many workers send at high rates.

Both backends take the caller's ``now`` (seconds; the journey clock for pacing, so a virtual
clock paces virtual time) and never move a bucket's time backwards.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from renraku.store import Store

PREFIX = "renraku:bucket:"

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
    each take one atomic Lua script. Idle buckets expire after ``ttl_seconds``."""

    name = "redis"

    def __init__(self, url: str, *, ttl_seconds: int = 86_400, client: Any = None) -> None:
        import redis

        self.url = url
        self.ttl_seconds = ttl_seconds
        self.client = client or redis.Redis.from_url(
            url, socket_timeout=5, health_check_interval=30
        )
        self._one = self.client.register_script(_TAKE_ONE)
        self._many = self.client.register_script(_TAKE_MANY)

    def take_one(
        self, conn: Connection | None, bucket: str, *, rate: float, burst: float, now: float
    ) -> float:
        out = self._one(keys=[PREFIX + bucket], args=[rate, burst, now, self.ttl_seconds])
        return float(out.decode() if isinstance(out, bytes) else out)

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
        out = self._many(keys=[PREFIX + bucket], args=[wanted, rate, burst, now, self.ttl_seconds])
        return int(out)

    def close(self) -> None:
        self.client.close()


_BY_STORE: weakref.WeakKeyDictionary[Any, Buckets] = weakref.WeakKeyDictionary()


def use(store: Store, redis_url: str | None) -> Buckets:
    """Choose the buckets of ``store``'s processes: Redis when ``redis_url`` is set."""
    chosen: Buckets = RedisBuckets(redis_url) if redis_url else DatabaseBuckets(store)
    _BY_STORE[store] = chosen
    return chosen


def for_store(store: Store) -> Buckets:
    """The buckets chosen for ``store`` (the database when none was chosen)."""
    found = _BY_STORE.get(store)
    if found is None:
        found = _BY_STORE[store] = DatabaseBuckets(store)
    return found
