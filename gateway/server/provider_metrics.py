"""The provider side of ``Metrics`` (``ProviderObserver``): calls, retries, fallbacks, invalid
output, how structured output was asked for, cost. Labels are outcomes and modes, never models'
answers or ticket text."""

from __future__ import annotations

from typing import get_args

from prometheus_client import CollectorRegistry, Counter

from gateway.config import StructuredMode
from gateway.providers import CallOutcome


class ProviderMetrics:
    """Mixed into ``Metrics``: its counters live in the same registry."""

    def _provider_counters(self, r: CollectorRegistry) -> None:
        self.provider_calls = Counter(
            "gateway_provider_calls", "Provider calls by outcome", ["outcome"], registry=r
        )
        for outcome in get_args(CallOutcome):
            self.provider_calls.labels(outcome)  # export zeros: absent series break rate() alerts
        self.provider_retries = Counter("gateway_provider_retries", "Provider retries", registry=r)
        self.provider_fallbacks = Counter(
            "gateway_provider_fallbacks", "Fallbacks to another model or local", registry=r
        )
        self.provider_invalid = Counter(
            "gateway_provider_invalid_outputs",
            "Provider replies that failed validation and were re-asked",
            registry=r,
        )
        self.provider_structured = Counter(
            "gateway_provider_structured_answers",
            "Structured-output answers by how they were asked for (json_schema: the provider's "
            "native schema; json: JSON mode) and whether they validated",
            ["mode", "outcome"],
            registry=r,
        )
        for mode in get_args(StructuredMode):
            for valid in ("valid", "invalid"):
                self.provider_structured.labels(mode, valid)
        self.provider_cost = Counter(
            "gateway_provider_cost_usd", "Provider cost in USD", registry=r
        )

    def call(self, model: str, outcome: CallOutcome) -> None:
        self.provider_calls.labels(outcome).inc()

    def retry(self, model: str) -> None:
        self.provider_retries.inc()

    def fallback(self, from_model: str, to_model: str) -> None:
        self.provider_fallbacks.inc()

    def local_fallback(self, tickets: int) -> None:
        self.provider_fallbacks.inc(tickets)

    def invalid_output(self, model: str) -> None:
        self.provider_invalid.inc()

    def structured(self, model: str, mode: StructuredMode, valid: bool) -> None:
        self.provider_structured.labels(mode, "valid" if valid else "invalid").inc()

    def cost(self, model: str, usd: float) -> None:
        self.provider_cost.inc(usd)
