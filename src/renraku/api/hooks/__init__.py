"""Provider webhooks and unsubscribe links, as one FastAPI router to mount at the server's root.

``router`` serves ``/hooks/twilio/status``, ``/hooks/twilio/inbound``, ``/hooks/ses`` (SNS
notifications from SES), ``/hooks/sns`` and ``/hooks/unsubscribe/{app}/{endpoint}``. None of them
takes an API key: each checks its own signature (Twilio's, SNS's, or the link's token) and applies
a callback once (:mod:`renraku.api.hooks.replay`). The App is read from ``request.app.state.renraku``.
"""

from __future__ import annotations

from fastapi import APIRouter

from renraku.api.hooks import sns, twilio, unsubscribe

router = APIRouter(prefix="/hooks", tags=["hooks"], include_in_schema=False)
router.include_router(twilio.router)
router.include_router(sns.router)
router.include_router(unsubscribe.router)

__all__ = ["router"]
