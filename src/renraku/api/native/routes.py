"""Every native router, in the order the OpenAPI document lists them."""

from __future__ import annotations

from fastapi import APIRouter

from renraku.api.native import apps, imports, journeys, messaging, segments, settings, voice
from renraku.api.native.models import PROBLEM_RESPONSES

router = APIRouter()
for module in (apps, imports, segments, journeys, messaging, voice, settings):
    router.include_router(module.router, responses=PROBLEM_RESPONSES)
