"""Settings: one ``Settings`` object made of sections, each read from the environment.

Every section is its own ``BaseSettings`` and reads the ``GATEWAY_*`` variables it has always
read (``GATEWAY_CACHE_DIR`` is ``settings.cache.dir``, ``GATEWAY_LLM_TIMEOUT_S`` is
``settings.provider.timeout_s``), so the flat names of earlier releases keep working. The
rules that span sections are ``Settings``' validators. Tests build their own:
``Settings(cache=CacheSettings(dir=tmp))``; ``get_settings()`` is the process default.
The sections are in ``sections`` (serving), ``provider`` (the provider client: model chain,
timeouts, structured output), ``store`` (the store and the learning loop) and ``shared``
(Redis, past one machine).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings

from gateway.config.connectors import ConnectorSettings
from gateway.config.provider import (
    ProviderSettings,
    RetryPolicy,
    StructuredChoice,
    StructuredMode,
)
from gateway.config.sections import (
    PROJECT_ROOT,
    PROVIDER_SCORERS,
    AccessSettings,
    CacheSettings,
    Floors,
    LimitSettings,
    LocalSettings,
    RedactionSettings,
    RubricSettings,
    ScorerKind,
    ScoringSettings,
    ServerSettings,
)
from gateway.config.shared import RedisSettings
from gateway.config.store import DECISIONS, DecisionName, StoreSettings
from gateway.errors import ConfigError

__all__ = [
    "DECISIONS",
    "PROJECT_ROOT",
    "PROVIDER_SCORERS",
    "AccessSettings",
    "CacheSettings",
    "ConnectorSettings",
    "DecisionName",
    "Floors",
    "LimitSettings",
    "LocalSettings",
    "ProviderSettings",
    "RedactionSettings",
    "RedisSettings",
    "RetryPolicy",
    "RubricSettings",
    "ScorerKind",
    "ScoringSettings",
    "ServerSettings",
    "Settings",
    "StoreSettings",
    "StructuredChoice",
    "StructuredMode",
    "env_name",
    "get_settings",
    "load_settings",
]


class Settings(BaseModel):
    """Every section; built once (``create_app(settings)``) and handed to what needs it."""

    model_config = ConfigDict(frozen=True)

    server: ServerSettings = Field(default_factory=ServerSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    rubrics: RubricSettings = Field(default_factory=RubricSettings)
    local: LocalSettings = Field(default_factory=LocalSettings)
    floors: Floors = Field(default_factory=Floors)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    provider: ProviderSettings = Field(default_factory=ProviderSettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    access: AccessSettings = Field(default_factory=AccessSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    connectors: ConnectorSettings = Field(default_factory=ConnectorSettings)

    @model_validator(mode="after")
    def _provider_scorer_has_a_model(self) -> Self:
        kind = self.scoring.scorer
        if kind in PROVIDER_SCORERS and not self.provider.model:
            raise ValueError(f"GATEWAY_SCORER={kind} needs GATEWAY_MODEL (a litellm model string)")
        return self

    @property
    def scorer_kind(self) -> ScorerKind:
        """``GATEWAY_SCORER``, defaulting to cascade when a model is configured, else local."""
        return self.scoring.scorer or ("cascade" if self.provider.model else "local")

    def replace(self, **sections: BaseModel) -> Settings:
        """A copy with whole sections replaced, validated again (``model_copy`` is not)."""
        return Settings.model_validate({**dict(self), **sections})


def env_name(section: type[BaseSettings], field: str) -> str:
    """The environment variable a section's field is read from."""
    for name, info in section.model_fields.items():
        if field in (name, info.validation_alias):
            if isinstance(info.validation_alias, str):
                return info.validation_alias
            break
    return f"{section.model_config.get('env_prefix', '')}{field}".upper()


def _problems(exc: ValidationError, section: type[BaseSettings] | None) -> list[str]:
    # names and reasons only: a value may be a secret (an API key digest, a provider key)
    out = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = [str(p) for p in err["loc"]]
        if section is not None and loc:
            where = env_name(section, loc[0]) + "".join(f"[{p}]" for p in loc[1:])
        else:
            where = ".".join(loc) or "settings"
        out.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return out


def load_settings(overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Settings:
    """Settings from the environment, with ``overrides`` (section -> field -> value, e.g. a
    command line's options) on top; invalid values are one ``ConfigError`` naming each
    variable and what is wrong with it."""
    sections: dict[str, BaseSettings] = {}
    problems: list[str] = []
    for name, info in Settings.model_fields.items():
        section = info.annotation
        assert isinstance(section, type) and issubclass(section, BaseSettings)
        try:
            sections[name] = section(**(overrides or {}).get(name, {}))
        except ValidationError as exc:
            problems += _problems(exc, section)
    if not problems:
        try:
            return Settings.model_validate(sections)
        except ValidationError as exc:
            problems += _problems(exc, None)
    raise ConfigError("invalid settings: " + "; ".join(problems))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
