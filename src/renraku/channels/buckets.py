"""Token buckets shared by every worker: in the database (default) or in Redis.

Provider rate limits (``[policies] rate_limits``), journey pacing (``MessagesPerSecond``) and
channel rates (``[journeys] channel_rates``) take tokens from named buckets. By default a bucket
is a row in the database, refilled and taken in one statement or under a row lock, so every
process on every host sharing the database shares the budget. When ``RENRAKU_REDIS_URL`` is set,
buckets live in Redis instead: each take is one Lua script, atomic on the Redis server, which
keeps the database free of the hottest rows when many workers send at high rates.

Both backends take the caller's ``now`` (seconds; the journey clock for pacing, so a virtual
clock paces virtual time) and never move a bucket's time backwards.

When Redis cannot be reached (refused, timed out, restarting), takes fall back to the database
buckets, so limits keep holding and nothing waits on Redis: an error is logged once per outage
(``renraku.buckets``), Redis is asked again every ``retry_seconds``, and its return is logged too.

The budget stays one budget while only some processes reach Redis. A process that cannot reach
Redis raises a signal (:class:`FallbackSignal`, a row of ``rate_buckets``) and renews it while
Redis stays out of its reach; every process reads the signal at most ``check_seconds`` apart and,
while it is up, takes from the database buckets even when it reaches Redis. Database takes begin
two ``check_seconds`` after the signal was raised, when every process has read it; Redis takes
begin again only after the signal has lapsed, unrenewed for ``hold_seconds``. So Redis and the
database never grant at once. At a switch a bucket may grant its burst once more (each backend
keeps its own level), as when Redis restarts empty.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
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


SIGNAL = "renraku:redis-fallback"


@dataclass(frozen=True, slots=True)
class _View:
    """What a process last read of the signal, in its own monotonic clock."""

    degraded: bool
    valid_until: float  # read the signal again after this
    database_from: float = 0.0  # while degraded: database takes wait until this


class FallbackSignal:
    """The row ``renraku:redis-fallback`` of ``rate_buckets`` that moves every process to the
    database buckets while any one of them cannot reach Redis: ``tokens`` holds when database takes
    may begin and ``updated_at`` when the signal lapses, both in the database's clock (epoch
    seconds), so hosts need no common clock. Each monotonic deadline a process derives from a read
    errs on the safe side: it leaves Redis early and enters the database late."""

    def __init__(self, store: Store, *, check_seconds: float, hold_seconds: float) -> None:
        self.store = store
        self.check_seconds = check_seconds
        self.hold_seconds = hold_seconds

    def _now(self, conn: Connection) -> Any:
        from sqlalchemy import Float, cast, func, literal

        if conn.dialect.name == "postgresql":
            return cast(func.extract("epoch", func.clock_timestamp()), Float)
        return (func.julianday("now") - literal(2440587.5)) * literal(86400.0)

    def read(self, conn: Connection | None) -> _View:
        from sqlalchemy import select

        from renraku.store.deliverability import rate_buckets as rb

        if conn is None:
            with self.store.connect() as own:
                return self.read(own)
        before = time.monotonic()
        row = conn.execute(
            select(rb.c.tokens, rb.c.updated_at, self._now(conn)).where(rb.c.name == SIGNAL)
        ).first()
        after = time.monotonic()
        if row is None or row[1] <= row[2]:
            return _View(False, before + self.check_seconds)
        return self._degraded(row[0], row[1], row[2], before, after)

    def _degraded(
        self, begins: float, ends: float, now: float, before: float, after: float
    ) -> _View:
        return _View(True, before + (ends - now), after + max(0.0, begins - now))

    def raise_(self, conn: Connection | None) -> _View:
        """Raise the signal, or push its end ``hold_seconds`` ahead; the view it leaves.

        On PostgreSQL in a transaction of its own, committed at once for every process to see; on
        SQLite (one host) in the caller's transaction when there is one, since a second writer
        would wait on the caller's lock."""
        if conn is None or conn.dialect.name == "postgresql":
            with self.store.begin() as own:
                return self._raise(own)
        return self._raise(conn)

    def _raise(self, conn: Connection) -> _View:
        from sqlalchemy import case
        from sqlalchemy.dialects import postgresql, sqlite

        from renraku.store.deliverability import rate_buckets as rb

        now = self._now(conn)
        ins = postgresql.insert(rb) if conn.dialect.name == "postgresql" else sqlite.insert(rb)
        ins = ins.values(
            name=SIGNAL, tokens=now + 2 * self.check_seconds, updated_at=now + self.hold_seconds
        )
        lapsed = rb.c.updated_at <= now
        stmt = ins.on_conflict_do_update(
            index_elements=[rb.c.name],
            set_={
                "tokens": case((lapsed, ins.excluded.tokens), else_=rb.c.tokens),
                "updated_at": case(
                    (rb.c.updated_at < ins.excluded.updated_at, ins.excluded.updated_at),
                    else_=rb.c.updated_at,
                ),
            },
        ).returning(rb.c.tokens, rb.c.updated_at, now)
        before = time.monotonic()
        begins, ends, at = conn.execute(stmt).one()
        return self._degraded(begins, ends, at, before, time.monotonic())


class RedisBuckets:
    """Buckets as Redis hashes ``renraku:bucket:<name>`` (fields t: tokens, u: updated at),
    each take one atomic Lua script. Idle buckets expire after ``ttl_seconds``. With a
    ``fallback``, takes go there while any process cannot reach Redis (see the module docstring):
    this process asks Redis again every ``retry_seconds``."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: int = 86_400,
        client: Any = None,
        fallback: DatabaseBuckets | None = None,
        retry_seconds: float = 5.0,
        check_seconds: float = 1.0,
        hold_seconds: float | None = None,
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
        hold = 2 * retry_seconds + check_seconds if hold_seconds is None else hold_seconds
        if hold <= retry_seconds:
            raise ValueError(f"hold_seconds ({hold}) must be longer than retry_seconds")
        self.signal = (
            FallbackSignal(fallback.store, check_seconds=check_seconds, hold_seconds=hold)
            if fallback is not None
            else None
        )
        self._view: _View | None = None
        self.down_until: float | None = None  # monotonic time of the next try while Redis is down
        kw = self.client.connection_pool.connection_kwargs  # named without any password
        self._where = (
            f"{kw.get('host', kw.get('path', '?'))}:{kw.get('port', '')}/{kw.get('db', 0)}"
        )

    def _lost(self, signal: FallbackSignal, conn: Connection | None, exc: Exception) -> _View:
        """Redis failed this process: log it once per outage and raise (or renew) the signal."""
        if self.down_until is None:
            log.error(
                "Redis at %s cannot be reached (%s: %s): every process takes token buckets "
                "from the database until it answers again (tried every %g s)",
                self._where,
                type(exc).__name__,
                exc,
                self.retry_seconds,
            )
        self.down_until = time.monotonic() + self.retry_seconds
        self._view = signal.raise_(conn)
        return self._view

    def _back(self) -> None:
        if self.down_until is not None:
            log.warning("Redis at %s answers again: token buckets are back in Redis", self._where)
            self.down_until = None

    def _guarded(
        self,
        conn: Connection | None,
        in_redis: Callable[[], T],
        elsewhere: Callable[[Buckets], T],
        waiting: Callable[[float], T],
    ) -> T:
        import redis

        signal, fallback = self.signal, self.fallback
        if signal is None or fallback is None:
            return in_redis()
        now = time.monotonic()
        view = self._view
        if view is None or now >= view.valid_until:
            view = self._view = signal.read(conn)
        if not view.degraded:
            try:
                out = in_redis()
            except redis.RedisError as exc:
                view = self._lost(signal, conn, exc)
            else:
                self._back()
                return out
        elif self.down_until is not None and now >= self.down_until:
            try:  # this process renews the signal for as long as Redis fails it
                self.client.ping()
            except redis.RedisError as exc:
                view = self._lost(signal, conn, exc)
            else:
                self._back()
        wait = view.database_from - time.monotonic()
        return waiting(wait) if wait > 0 else elsewhere(fallback)

    def take_one(
        self, conn: Connection | None, bucket: str, *, rate: float, burst: float, now: float
    ) -> float:
        def in_redis() -> float:
            out = self._one(keys=[PREFIX + bucket], args=[rate, burst, now, self.ttl_seconds])
            return float(out.decode() if isinstance(out, bytes) else out)

        return self._guarded(
            conn,
            in_redis,
            lambda b: b.take_one(conn, bucket, rate=rate, burst=burst, now=now),
            lambda wait: max(wait, 0.001),
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
            conn,
            in_redis,
            lambda b: b.take_up_to(conn, bucket, wanted, rate=rate, burst=burst, now=now),
            lambda _wait: 0,
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
