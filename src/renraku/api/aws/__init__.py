"""AWS-compatible HTTP surfaces (Pinpoint here; Connect lives in ``renraku.api.connect``)."""
