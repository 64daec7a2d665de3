"""Server settings: ``[server]`` in ``renraku.toml`` or ``RENRAKU_SERVER__*`` variables."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class ServerSettings(BaseModel):
    """How ``renraku serve`` listens, protects stored secrets and limits callers.

    ``master_key`` encrypts the SigV4 secrets of API keys (a Fernet key: 32 url-safe base64 bytes).
    Without one, a key is generated on first use and kept in ``master_key_file`` (default: beside
    the SQLite database, or ``./renraku-master.key``); production deployments set it explicitly so
    that every host shares it.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    master_key: SecretStr | None = None
    master_key_file: str | None = None
    # Token bucket per API key: sustained requests per second and burst size.
    throttle_rate: float = Field(default=1000.0, gt=0)
    throttle_burst: int = Field(default=2000, ge=1)
    # Largest request body accepted, in bytes (Pinpoint's own limit for PutEvents is 4 MB).
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Largest file accepted by the native upload route (POST /api/v1/apps/{app}/imports/upload).
    max_upload_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    # SigV4: how far a request's X-Amz-Date may be from the server clock (AWS allows 15 minutes).
    clock_skew_seconds: int = Field(default=300, ge=1, le=3600)
    # How long a looked-up key is trusted before the store is read again (revocation delay).
    key_cache_seconds: float = Field(default=5.0, ge=0)
    # Directories that CreateImportJob may read through file:// URLs (none by default: over HTTP
    # a file:// URL would otherwise read any file the server can). s3:// is always allowed.
    import_file_roots: list[str] = Field(default_factory=list)
    # /metrics needs an administrator key unless this is true (for a scraper on a trusted network
    # that cannot send `Authorization: Bearer ...`); the health probes are always open.
    public_metrics: bool = False
