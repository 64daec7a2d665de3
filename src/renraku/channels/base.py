"""The send protocol between the journey engine and every provider.

The engine records each :class:`Delivery` (by its idempotency ``key``) before handing it to a channel,
and settles it with the :class:`DeliveryResult` after. A provider module translates its SDK's errors
into results (``permanent`` or transient); it never raises for a per-message failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from renraku.domain.endpoints import Endpoint

Outcome = Literal["sent", "failed", "unknown"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to one endpoint (a call is a message on VOICE)."""

    key: str  # idempotency key: journey version, participant, activity, attempt, endpoint
    app_id: str
    channel: str  # EMAIL | SMS | VOICE | CUSTOM
    endpoint: Endpoint
    template: str | None = None  # template name from the activity's TemplateName
    config: Mapping[str, Any] = field(default_factory=dict)  # the activity's message settings
    journey_id: str | None = None
    activity_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What a provider said about one delivery."""

    key: str
    outcome: Outcome
    provider: str
    provider_message_id: str | None = None
    permanent: bool = False  # for "failed": retrying cannot help
    reason: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)  # e.g. EventAttributes, segment counts


class Channel(Protocol):
    """A transport for one channel type."""

    name: str

    def deliver(self, batch: Sequence[Delivery]) -> list[DeliveryResult]:
        """Hand each delivery to the provider; one result per delivery, in order."""
        ...

    def lookup(self, key: str) -> DeliveryResult | None:
        """Ask the provider whether ``key`` was accepted (for reconciliation); None if unknown."""
        ...
