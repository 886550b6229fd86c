"""One request's budget (deadline, usage, who answered) and the retry policy run within it.

Transient faults (429, 5xx, timeouts, connection errors) are retried by tenacity with jittered
exponential backoff, honouring ``Retry-After`` up to ``retry_after_max_s``, and never past the
request's deadline.

A read timeout is the exception: it is not retried unless ``retry_read_timeouts`` is set, and
then only after at least ``backoff_max_s``. A read timeout means the request reached the server
and got no answer in time; closing our connection does not stop a self-hosted server
(llama.cpp, vLLM, Ollama) from finishing the first copy, so an immediate retry queues a second
copy behind it: twice the load on a server that is already too slow, and an answer no sooner
than the first would have been. It also spent most of the deadline already. So by default the
ticket fails over to the next model on another endpoint, or ends as ``provider_unavailable``
(the local fallback answers where configured), and the caller may retry later.
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import litellm
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from gateway.config import RetryPolicy
from gateway.providers.faults import is_read_timeout, is_transient, retry_after_s
from gateway.schemas import Usage


@dataclass
class RequestBudget:
    """What one gateway request has spent so far (shared by instructor's re-asks)."""

    models: tuple[str, ...]
    deadline_at: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    answered_by: str | None = None

    def remaining(self) -> float:
        return self.deadline_at - time.monotonic()

    def usage(self) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost_usd=self.cost_usd,
        )

    def account(self, response: litellm.ModelResponse) -> float:
        """Add one call's usage; returns its cost in USD."""
        self.calls += 1
        usage = getattr(response, "usage", None)
        self.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
        self.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
        cost = response_cost(response)
        self.cost_usd += cost
        return cost


# A ContextVar, not an argument: instructor owns the call signature between us and litellm.
current_request: contextvars.ContextVar[RequestBudget | None] = contextvars.ContextVar(
    "gateway_provider_request", default=None
)


def response_cost(response: litellm.ModelResponse) -> float:
    """litellm prices every response from its bundled cost map while it builds it; unknown or
    self-hosted models come back unpriced and cost 0."""
    hidden = getattr(response, "_hidden_params", None)
    cost = hidden.get("response_cost") if isinstance(hidden, dict) else None
    if isinstance(cost, int | float) and math.isfinite(cost) and cost >= 0:
        return float(cost)
    return 0.0


class StopAtDeadline(stop_base):
    """Stop when the next backoff would end past the request's deadline.

    tenacity computes the upcoming sleep before it asks ``stop``, so this never sleeps in vain.
    """

    def __init__(self, request: RequestBudget) -> None:
        self.request = request

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.upcoming_sleep >= self.request.remaining()


def retrying(
    policy: RetryPolicy,
    request: RequestBudget,
    before_sleep: Callable[[RetryCallState], None],
) -> AsyncRetrying:
    """Retries of one model's call: transient faults only, within attempts and the deadline;
    a read timeout only where the policy allows it, and never at once."""
    jitter = wait_random_exponential(multiplier=policy.backoff_initial_s, max=policy.backoff_max_s)

    def wait(state: RetryCallState) -> float:
        backoff = float(jitter(state))
        exc = state.outcome.exception() if state.outcome else None
        if exc is not None and is_read_timeout(exc):
            return max(backoff, policy.backoff_max_s)  # give the first copy time to finish
        hinted = retry_after_s(exc) if exc is not None else None
        if hinted is not None:
            return max(backoff, min(hinted, policy.retry_after_max_s))
        return backoff

    def worth_retrying(exc: BaseException) -> bool:
        if not is_transient(exc):
            return False
        return policy.retry_read_timeouts or not is_read_timeout(exc)

    return AsyncRetrying(
        retry=retry_if_exception(worth_retrying),
        wait=wait,
        stop=stop_any(stop_after_attempt(policy.max_retries + 1), StopAtDeadline(request)),
        before_sleep=before_sleep,
        reraise=True,
    )
