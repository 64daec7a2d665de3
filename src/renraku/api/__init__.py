"""The HTTP entry point: ``renraku serve`` (FastAPI + uvicorn).

``renraku.api.server.create_api(app)`` builds the ASGI application: health and metrics, the native
REST API under ``/api/v1`` and the Pinpoint-compatible routes under ``/v1``. This package imports
nothing heavy at import time so that settings can import :mod:`renraku.api.config`.
"""
