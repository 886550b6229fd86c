"""The redaction seam: what a ``Redactor`` returns, the protocol itself, and the pass-through.

Nothing raw goes past a Redactor (DESIGN.md §1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from gateway.rubrics import RedactionOverrides


class RedactedText(BaseModel):
    model_config = ConfigDict(frozen=True)  # shared: the memo hands one out many times

    text: str
    entities: dict[str, int] = Field(default_factory=dict, description="count per entity type")


class Redactor(Protocol):
    def redact(self, text: str, overrides: RedactionOverrides | None = None) -> RedactedText: ...

    def redact_batch(
        self, texts: Sequence[str], overrides: RedactionOverrides | None = None
    ) -> list[RedactedText]: ...


class BatchRedactor:
    """Base of redactors that work in batches: ``redact`` is a batch of one."""

    def redact(self, text: str, overrides: RedactionOverrides | None = None) -> RedactedText:
        (result,) = self.redact_batch([text], overrides)
        return result

    def redact_batch(
        self, texts: Sequence[str], overrides: RedactionOverrides | None = None
    ) -> list[RedactedText]:
        raise NotImplementedError


class PassThroughRedactor(BatchRedactor):
    """Used only where the deployment allows unredacted text (``redact: false``)."""

    def redact_batch(
        self, texts: Sequence[str], overrides: RedactionOverrides | None = None
    ) -> list[RedactedText]:
        return [RedactedText(text=text) for text in texts]
