"""renraku: self-hosted multichannel outbound communication (call, SMS, email) in durable journeys."""

__version__ = "0.1.0"
