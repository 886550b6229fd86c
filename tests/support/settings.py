"""Settings for tests, section by section: ``make_settings(cache={"dir": tmp})``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic_settings import BaseSettings

from gateway.config import Settings


def _section(name: str) -> type[BaseSettings]:
    section = Settings.model_fields[name].annotation
    assert isinstance(section, type) and issubclass(section, BaseSettings), name
    return section


def make_settings(**sections: Mapping[str, Any]) -> Settings:
    """Fresh settings; each keyword names a section and gives some of its fields."""
    return Settings(**{name: _section(name)(**values) for name, values in sections.items()})


def override(settings: Settings, **sections: Mapping[str, Any]) -> Settings:
    """``settings`` with some fields of some sections changed, validated again."""
    return settings.replace(
        **{
            name: _section(name).model_validate({**dict(getattr(settings, name)), **values})
            for name, values in sections.items()
        }
    )
