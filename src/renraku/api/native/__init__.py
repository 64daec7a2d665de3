"""The native REST API under ``/api/v1`` (documented by the committed ``openapi.json``)."""
