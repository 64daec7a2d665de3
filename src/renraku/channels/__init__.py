"""Channels: one protocol (``base.Channel``), one module per provider, recording doubles for tests."""
