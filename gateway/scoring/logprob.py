"""The ``logprob`` scorer: the model names one label code; its token log-probabilities are the
distribution.

One call per (ticket, axis): the ``label_code`` prompt lists the axis' labels as A, B, C... and
asks for the letter alone. The first generated token's ``top_logprobs`` give each code's
probability; the distribution is their softmax over the codes. A code missing from the top-k is
at most as likely as the least likely token shown and shares what mass the top-k leaves; it gets
that floor rather than zero. Better calibrated than asking for numbers, but only where the
provider returns logprobs in the chat format (``logprobs.content``): ``check()`` refuses other
models at start-up, a server answering in the legacy completions format among them.

Letters carry a bias of their own (small models favour "B" whatever it codes). With
``orders`` > 1 each axis is asked in that many label orders, cyclic shifts of the rubric order
so that each label gets a different letter in each, and a label's probability is its mean over
the orders: a letter's pull is then spread over the labels instead of given to one.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

from gateway.errors import ConfigError, ProviderError
from gateway.providers import LABEL_CODES, ChatMessage, Prompt, ProviderClient, TokenLogprob
from gateway.rubrics import RubricSet
from gateway.schemas import Usage
from gateway.scoring.base import AxisScores, ScoreResult, config_fingerprint
from gateway.scoring.distribution import MIN_PROBABILITY, with_floor
from gateway.scoring.provider import ProviderScorer, gather_or_cancel

_PUNCTUATION = " \t\r\n\"'`()[]{}.:,*"

_PROBE = (
    ChatMessage(role="system", content="Answer with the single letter A."),
    ChatMessage(role="user", content="Which letter comes first in the alphabet, A or B?"),
)
_LEGACY = (
    "returned logprobs in the legacy completions format (choices[0].logprobs.tokens / "
    "top_logprobs dicts), not chat's logprobs.content, so none that the scorer can read"
)


def label_orders(n: int, orders: int) -> list[list[int]]:
    """``orders`` cyclic shifts of ``range(n)``, spread evenly (fewer if n is smaller)."""
    shifts = sorted({round(j * n / orders) % n for j in range(orders)}) if n else [0]
    return [[(i + shift) % n for i in range(n)] for shift in shifts]


def code_distribution(top: Sequence[TokenLogprob], codes: Sequence[str]) -> dict[str, float] | None:
    """Code → probability (sums to 1) from one token's top logprobs; None if no code is there."""
    wanted = set(codes)
    seen: dict[str, float] = {}
    for alt in top:
        code = alt.token.strip(_PUNCTUATION)
        if code in wanted:
            # "A" and " A" are different tokens for the same answer: add their probabilities
            seen[code] = math.exp(alt.logprob) + seen.get(code, 0.0)
    if not seen:
        return None
    return with_floor(seen, codes, [math.exp(alt.logprob) for alt in top])


class LogprobScorer(ProviderScorer):
    name = "logprob"
    prompt_kind = "label_code"

    def __init__(
        self,
        client: ProviderClient,
        prompt: Prompt,
        *,
        concurrency: int | asyncio.Semaphore = 32,
        top_logprobs: int = 20,
        model: str | None = None,
        orders: int = 1,
    ) -> None:
        super().__init__(client, prompt, concurrency=concurrency, model=model)
        if orders < 1:
            raise ValueError("orders must be at least 1")
        self._top_logprobs = top_logprobs  # 20 is OpenAI's maximum
        self._orders = orders

    @property
    def fingerprint(self) -> str:
        return config_fingerprint(
            {
                "chain": list(self._client.chain(self._model)),
                "provider": self._client.config.answer_fields(),
                "top_logprobs": self._top_logprobs,
                "min_probability": MIN_PROBABILITY,
                "temperature": 0,
                **({"orders": self._orders} if self._orders > 1 else {}),
            }
        )

    def variant(self, *, model: str | None = None, prompt: Prompt | None = None) -> LogprobScorer:
        """A request's model/prompt override, sharing the client and the concurrency bound.
        No probe is run for it: a model without logprobs fails that request (502), not the
        server."""
        return LogprobScorer(
            self._client,
            self._variant_prompt(prompt),
            concurrency=self._semaphore,
            top_logprobs=self._top_logprobs,
            model=model or self._model,
            orders=self._orders,
        )

    async def check(self) -> None:
        """Refuse, at start-up, a model that does not return logprobs."""
        hint = "use GATEWAY_SCORER=llm for this model"
        if self._client.supports_logprobs(self.model) is False:
            raise ConfigError(
                f"model {self.model!r} does not support logprobs (per litellm); "
                f"the logprob scorer needs top_logprobs: {hint}"
            )
        await self._client.warm_up()
        try:
            reply = await self._client.logprobs(
                _PROBE, top_logprobs=2, max_tokens=1, model=self._model
            )
        except ProviderError as exc:
            raise ConfigError(
                f"logprob check of model {self.model!r} failed: {exc.message}"
            ) from None
        if reply.legacy_logprobs:
            raise ConfigError(f"model {self.model!r} {_LEGACY}: {hint}")
        if not reply.top_logprobs:
            raise ConfigError(
                f"model {self.model!r} returned no logprobs for a test prompt; "
                f"the logprob scorer needs top_logprobs: {hint}"
            )

    async def _score_one(self, text: str, rubric: RubricSet, axes: list[str]) -> ScoreResult:
        answers = await gather_or_cancel(self._score_axis(text, rubric, axis) for axis in axes)
        usage = Usage()
        for _, axis_usage, _ in answers:
            usage = Usage(
                prompt_tokens=usage.prompt_tokens + axis_usage.prompt_tokens,
                completion_tokens=usage.completion_tokens + axis_usage.completion_tokens,
                cost_usd=usage.cost_usd + axis_usage.cost_usd,
            )
        return ScoreResult(
            axes={axis: scores for axis, (scores, _, _) in zip(axes, answers, strict=True)},
            scorer=self.name,
            model=answers[0][2] if answers else self.model,
            prompt=self._prompt.ref.tag,
            usage=usage,
        )

    async def _score_axis(
        self, text: str, rubric: RubricSet, axis: str
    ) -> tuple[AxisScores, Usage, str]:
        names = rubric.axes[axis].names
        orders = label_orders(len(names), self._orders) if self._orders > 1 else [None]
        asked = await gather_or_cancel(
            self._score_order(text, rubric, axis, order) for order in orders
        )
        by_label = {name: sum(d[name] for d, _, _ in asked) / len(asked) for name in names}
        usage = Usage(
            prompt_tokens=sum(u.prompt_tokens for _, u, _ in asked),
            completion_tokens=sum(u.completion_tokens for _, u, _ in asked),
            cost_usd=sum(u.cost_usd for _, u, _ in asked),
        )
        return AxisScores(raw=by_label, scores=dict(by_label)), usage, asked[0][2]

    async def _score_order(
        self, text: str, rubric: RubricSet, axis: str, order: list[int] | None
    ) -> tuple[dict[str, float], Usage, str]:
        """One call: the axis' labels listed in ``order`` (None: rubric order)."""
        messages = self._prompt.render_label_code(rubric, axis, text, order)
        names = rubric.axes[axis].names
        listed = [names[i] for i in order] if order is not None else list(names)
        codes = list(LABEL_CODES[: len(names)])
        async with self._semaphore:
            reply = await self._client.logprobs(
                messages,
                top_logprobs=min(self._top_logprobs, 20),
                max_tokens=1,
                model=self._model,
            )
        distribution = code_distribution(reply.top_logprobs, codes)
        if distribution is None:
            if reply.legacy_logprobs:
                raise ProviderError(f"model {reply.model!r} {_LEGACY} (axis {axis!r})")
            raise ProviderError(
                f"model {reply.model!r} answered no label code among its top tokens "
                f"(axis {axis!r}; {len(reply.top_logprobs)} alternatives returned)"
            )
        by_label = {name: distribution[code] for name, code in zip(listed, codes, strict=True)}
        return by_label, reply.usage, reply.model
