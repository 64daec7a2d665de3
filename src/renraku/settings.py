"""Settings: ``renraku.toml`` (``--config`` or ``RENRAKU_CONFIG``) overlaid by ``RENRAKU_*`` variables.

Nested keys use ``__`` in environment variables, e.g. ``RENRAKU_CLOCK__MODE=virtual``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from renraku.api.config import ServerSettings
from renraku.channels.config import (
    EmailSettings,
    FunctionSettings,
    PolicySettings,
    SmsSettings,
    WebhookSettings,
)
from renraku.channels.voice_config import VoiceSettings
from renraku.engine.config import JourneySettings
from renraku.simulation.config import SimulationSettings
from renraku.web.config import DashboardSettings

DEFAULT_DB_URL = "sqlite:///renraku.db"


class ClockSettings(BaseModel):
    """Which clock drives journeys: the wall clock, an accelerated one, or a virtual one in the DB."""

    mode: Literal["real", "accelerated", "virtual"] = "real"
    time_scale: float = Field(default=3600.0, gt=0)
    # Where a new virtual clock starts (ISO UTC); default: the wall clock at first use.
    virtual_start: str | None = None


class ImportSettings(BaseModel):
    """Defaults for imports."""

    default_region: str | None = None
    batch_size: int = Field(default=5000, ge=1, le=100_000)


class Settings(BaseSettings):
    """Effective settings. Build with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="RENRAKU_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    db: str = DEFAULT_DB_URL
    app: str | None = None
    clock: ClockSettings = ClockSettings()
    imports: ImportSettings = ImportSettings()
    server: ServerSettings = ServerSettings()
    email: EmailSettings = EmailSettings()
    sms: SmsSettings = SmsSettings()
    webhooks: WebhookSettings = WebhookSettings()
    functions: dict[str, FunctionSettings] = {}
    policies: PolicySettings = PolicySettings()
    voice: VoiceSettings = VoiceSettings()
    journeys: JourneySettings = JourneySettings()
    dashboard: DashboardSettings = DashboardSettings()
    simulation: SimulationSettings = SimulationSettings()
    redis_url: str | None = None  # RENRAKU_REDIS_URL: shared token buckets in Redis

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = _config_path()
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


_CONFIG_OVERRIDE: list[Path] = []


def _config_path() -> Path | None:
    if _CONFIG_OVERRIDE:
        return _CONFIG_OVERRIDE[-1]
    env = os.environ.get("RENRAKU_CONFIG")
    if env:
        return Path(env)
    default = Path("renraku.toml")
    return default if default.is_file() else None


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from ``config`` (or the default places) with explicit ``overrides`` on top.

    Overrides whose value is ``None`` are ignored, so CLI options can be passed straight through.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    if config is not None:
        if not config.is_file():
            from renraku.errors import ConfigError

            raise ConfigError(f"config file {config} does not exist")
        _CONFIG_OVERRIDE.append(config)
        try:
            return Settings(**given)
        finally:
            _CONFIG_OVERRIDE.pop()
    return Settings(**given)
