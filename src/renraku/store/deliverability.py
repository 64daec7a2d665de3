"""What decides whether a message may go and what became of it: suppressions, opt-outs, provider
message ids (for status callbacks), per-application signing secrets, and shared rate buckets."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Float,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    case,
    delete,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from renraku.errors import NotFound
from renraku.store.schema import endpoints, metadata

suppressions = Table(
    "suppressions",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("address", String(512), nullable=False),
    Column(
        "reason", String(64), nullable=False
    ),  # BOUNCE | COMPLAINT | UNSUBSCRIBE | STOP | MANUAL
    Column("detail", Text),
    Column("created_at", String(32), nullable=False),
    PrimaryKeyConstraint("app_id", "address"),
    ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
)

rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", Float, nullable=False),  # epoch seconds
)

webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("app_id", String(64), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("created_at", String(32), nullable=False),
    ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
)

provider_messages = Table(
    "provider_messages",
    metadata,
    Column("provider", String(32), nullable=False),
    Column("message_id", String(256), nullable=False),
    Column("app_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("address", String(512), nullable=False),
    Column("send_key", String(256)),
    Column("endpoint_id", String(128)),
    Column("user_id", String(256)),
    Column("journey_id", String(64)),
    Column("activity_id", String(128)),
    Column("status", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    PrimaryKeyConstraint("provider", "message_id"),
    ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    Index("ix_provider_messages_send", "send_key"),
)


def normalise_address(address: str) -> str:
    """Addresses compare case-insensitively for email, exactly for phone numbers."""
    address = address.strip()
    return address.lower() if "@" in address else address


# -- suppression list -------------------------------------------------------------------------


def suppress(
    conn: Connection, app_id: str, address: str, reason: str, *, now: str, detail: str | None = None
) -> bool:
    """Add ``address`` to the application's suppression list; False if it was already there."""
    try:
        with conn.begin_nested():
            conn.execute(
                insert(suppressions).values(
                    app_id=app_id,
                    address=normalise_address(address),
                    reason=reason,
                    detail=detail,
                    created_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


def unsuppress(conn: Connection, app_id: str, address: str) -> bool:
    result = conn.execute(
        delete(suppressions).where(
            (suppressions.c.app_id == app_id)
            & (suppressions.c.address == normalise_address(address))
        )
    )
    return bool(result.rowcount)


def suppressed(conn: Connection, app_id: str, addresses: Iterable[str]) -> dict[str, str]:
    """The suppressed ones among ``addresses`` (normalised), with their reasons."""
    wanted = {normalise_address(a) for a in addresses}
    if not wanted:
        return {}
    rows = conn.execute(
        select(suppressions.c.address, suppressions.c.reason).where(
            (suppressions.c.app_id == app_id) & suppressions.c.address.in_(sorted(wanted))
        )
    )
    return {r.address: r.reason for r in rows}


def list_suppressions(conn: Connection, app_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(suppressions).where(suppressions.c.app_id == app_id).order_by(suppressions.c.address)
    )
    return [
        {"Address": r.address, "Reason": r.reason, "Detail": r.detail, "CreatedAt": r.created_at}
        for r in rows
    ]


# -- opt-out --------------------------------------------------------------------------------


def opt_out_endpoint(conn: Connection, app_id: str, endpoint_id: str, *, now: str) -> bool:
    """Set OptOut=ALL on one endpoint; False if it does not exist or was already opted out."""
    result = conn.execute(
        update(endpoints)
        .where(
            (endpoints.c.app_id == app_id)
            & (endpoints.c.id == endpoint_id)
            & (endpoints.c.opt_out != "ALL")
        )
        .values(opt_out="ALL", effective_date=now)
    )
    return bool(result.rowcount)


def endpoints_with_address(
    conn: Connection, address: str, channels: Iterable[str], app_id: str | None = None
) -> list[dict[str, Any]]:
    """Endpoints (of any application unless ``app_id``) on ``channels`` with this address."""
    query = select(
        endpoints.c.app_id, endpoints.c.id, endpoints.c.user_id, endpoints.c.opt_out
    ).where((endpoints.c.address == address.strip()) & endpoints.c.channel_type.in_(list(channels)))
    if app_id is not None:
        query = query.where(endpoints.c.app_id == app_id)
    return [dict(r._mapping) for r in conn.execute(query)]


# -- per-application secrets ----------------------------------------------------------------


def app_secret(conn: Connection, app_id: str, *, now: str) -> str:
    """The application's signing secret (webhook HMAC, unsubscribe tokens), made on first use."""
    row = conn.execute(
        select(webhook_secrets.c.secret).where(webhook_secrets.c.app_id == app_id)
    ).first()
    if row is not None:
        return str(row.secret)
    secret = secrets.token_urlsafe(32)
    try:
        with conn.begin_nested():
            conn.execute(
                insert(webhook_secrets).values(app_id=app_id, secret=secret, created_at=now)
            )
    except IntegrityError as exc:  # made meanwhile by another worker, or no such application
        again = conn.execute(
            select(webhook_secrets.c.secret).where(webhook_secrets.c.app_id == app_id)
        ).first()
        if again is None:
            raise NotFound("application", app_id) from exc
        return str(again.secret)
    return secret


def rotate_secret(conn: Connection, app_id: str, *, now: str) -> str:
    conn.execute(delete(webhook_secrets).where(webhook_secrets.c.app_id == app_id))
    return app_secret(conn, app_id, now=now)


# -- provider message ids -------------------------------------------------------------------


def record_message(conn: Connection, **values: Any) -> None:
    """Remember a provider's message id with the send it belongs to (idempotent)."""
    try:
        with conn.begin_nested():
            conn.execute(insert(provider_messages).values(**values))
    except IntegrityError:
        pass


def message_by_id(conn: Connection, provider: str, message_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(provider_messages).where(
            (provider_messages.c.provider == provider)
            & (provider_messages.c.message_id == message_id)
        )
    ).first()
    return None if row is None else dict(row._mapping)


def message_by_send_key(conn: Connection, send_key: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(provider_messages)
        .where(provider_messages.c.send_key == send_key)
        .order_by(provider_messages.c.created_at.desc())
    ).first()
    return None if row is None else dict(row._mapping)


def messages_by_send_keys(conn: Connection, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Recorded provider messages of these sends, by send key."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = conn.execute(
        select(provider_messages)
        .where(provider_messages.c.send_key.in_(wanted))
        .order_by(provider_messages.c.created_at)
    )
    return {r.send_key: dict(r._mapping) for r in rows}


def latest_message_to(conn: Connection, address: str, channel: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(provider_messages)
        .where((provider_messages.c.address == address) & (provider_messages.c.channel == channel))
        .order_by(provider_messages.c.created_at.desc())
    ).first()
    return None if row is None else dict(row._mapping)


def set_message_status(
    conn: Connection, provider: str, message_id: str, status: str, *, now: str
) -> None:
    conn.execute(
        update(provider_messages)
        .where(
            (provider_messages.c.provider == provider)
            & (provider_messages.c.message_id == message_id)
        )
        .values(status=status, updated_at=now)
    )


# -- token buckets shared by every worker ---------------------------------------------------


def take_token(conn: Connection, name: str, *, rate: float, burst: float, now: float) -> float:
    """Take one token from bucket ``name``; 0.0 when taken, else the seconds until one is due.

    One conditional UPDATE refills and takes atomically, so concurrent workers on any host share
    the bucket without reading and writing in two steps.
    """
    refilled = rate_buckets.c.tokens + (literal(now) - rate_buckets.c.updated_at) * rate
    level = case((refilled > burst, literal(burst)), else_=refilled)
    result = conn.execute(
        update(rate_buckets)
        .where((rate_buckets.c.name == name) & (level >= 1.0))
        .values(tokens=level - 1.0, updated_at=now)
    )
    if result.rowcount:
        return 0.0
    row = conn.execute(select(rate_buckets).where(rate_buckets.c.name == name)).first()
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(rate_buckets).values(name=name, tokens=burst - 1.0, updated_at=now)
                )
        except IntegrityError:
            return 0.01
        return 0.0
    current = min(burst, row.tokens + (now - row.updated_at) * rate)
    return max((1.0 - float(current)) / rate, 0.001)
