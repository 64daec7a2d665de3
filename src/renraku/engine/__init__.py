"""The journey engine: workers that claim due participants, run the pure step and carry out its
commands through the channels; the send ledger; clocks; pacing."""
