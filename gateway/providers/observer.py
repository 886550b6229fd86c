"""Where provider events go (metrics). Nothing here carries request content."""

from __future__ import annotations

from typing import Literal, Protocol

from gateway.config import StructuredMode

CallOutcome = Literal["ok", "error", "timeout"]


class ProviderObserver(Protocol):
    def call(self, model: str, outcome: CallOutcome) -> None: ...

    def retry(self, model: str) -> None: ...

    def fallback(self, from_model: str, to_model: str) -> None: ...

    def local_fallback(self, tickets: int) -> None:
        """``tickets`` were answered by the embedded model because the provider was down."""
        ...

    def invalid_output(self, model: str) -> None:
        """A reply failed validation against the response model (and is re-asked)."""
        ...

    def cost(self, model: str, usd: float) -> None: ...

    def structured(self, model: str, mode: StructuredMode, valid: bool) -> None:
        """One structured attempt, asked for in ``mode``: its answer validated, or not."""
        ...


class NullObserver:
    def call(self, model: str, outcome: CallOutcome) -> None:
        return None

    def retry(self, model: str) -> None:
        return None

    def fallback(self, from_model: str, to_model: str) -> None:
        return None

    def local_fallback(self, tickets: int) -> None:
        return None

    def invalid_output(self, model: str) -> None:
        return None

    def cost(self, model: str, usd: float) -> None:
        return None

    def structured(self, model: str, mode: StructuredMode, valid: bool) -> None:
        return None
