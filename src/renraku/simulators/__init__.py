"""Local stand-ins for providers (Twilio-compatible HTTP API), for demos and tests."""
