"""The ``llm`` scorer: a compiled prompt answered by any litellm model through instructor.

One call per ticket answers every requested axis. The reply is validated against a response
model built from the rubric (label keys, ``Literal`` choices, probabilities in [0, 1]); invalid
replies are re-asked up to ``max_reasks`` times, so a label that does not exist never gets past
this module. ``raw`` is each label's own P(yes); ``scores`` is ``raw`` normalised to sum to 1.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import TypeVar

from gateway.errors import GatewayError, InvalidRequestError
from gateway.providers.client import ProviderClient
from gateway.providers.prompts import Prompt, PromptRef
from gateway.rubrics.model import RubricSet
from gateway.scoring.base import AxisScores, ScoreOutcome, ScoreResult
from gateway.scoring.distribution import normalise

T = TypeVar("T")


def config_fingerprint(config: Mapping[str, object]) -> str:
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


async def gather_or_cancel(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """``asyncio.gather``, but the first failure cancels the rest instead of orphaning them."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def resolve_axes(rubric: RubricSet, axes: Sequence[str]) -> list[str]:
    return rubric.select_axes(list(axes) or None)


class ProviderScorer:
    """What the scorers that call a provider share: the client, a prompt of one kind, an optional
    model override and one concurrency bound. Subclasses score one ticket in ``_score_one``."""

    name = "provider"
    prompt_kind = ""

    def __init__(
        self,
        client: ProviderClient,
        prompt: Prompt,
        *,
        concurrency: int | asyncio.Semaphore = 32,
        model: str | None = None,
    ) -> None:
        if prompt.kind != self.prompt_kind:
            raise ValueError(f"prompt {prompt.ref.id} is not a {self.prompt_kind} prompt")
        self._client = client
        self._prompt = prompt
        self._model = model
        # Bounds in-flight provider calls across all requests (provider rate limits, sockets).
        self._semaphore = (
            concurrency
            if isinstance(concurrency, asyncio.Semaphore)
            else asyncio.Semaphore(concurrency)
        )

    @property
    def model(self) -> str:
        return self._model or self._client.model

    @property
    def prompt_ref(self) -> PromptRef:
        return self._prompt.ref

    @property
    def prompt(self) -> str:
        return self._prompt.ref.tag

    def _variant_prompt(self, prompt: Prompt | None) -> Prompt:
        """The prompt of a variant: a request's override must be of this scorer's kind."""
        if prompt is None:
            return self._prompt
        if prompt.kind != self.prompt_kind:
            raise InvalidRequestError(
                f"prompt {prompt.ref.id!r} is a {prompt.kind} prompt; "
                f"the {self.name} scorer needs a {self.prompt_kind} one"
            )
        return prompt

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        chosen = resolve_axes(rubric, axes)
        return await gather_or_cancel(self._outcome(text, rubric, chosen) for text in texts)

    async def _outcome(self, text: str, rubric: RubricSet, axes: list[str]) -> ScoreOutcome:
        try:
            return await self._score_one(text, rubric, axes)
        except GatewayError as exc:
            # One ticket's provider failure (after retries and fallbacks) is that ticket's:
            # the rest of the batch goes on. Anything else (a bug) still cancels the batch.
            return exc

    async def _score_one(self, text: str, rubric: RubricSet, axes: list[str]) -> ScoreResult:
        raise NotImplementedError


class LLMScorer(ProviderScorer):
    """Structured-output scoring. Built once; ``variant`` gives per-request model/prompt overrides
    that share the client and the concurrency bound."""

    name = "llm"
    prompt_kind = "structured"

    def __init__(
        self,
        client: ProviderClient,
        prompt: Prompt,
        *,
        max_reasks: int = 2,
        concurrency: int | asyncio.Semaphore = 32,
        model: str | None = None,
    ) -> None:
        super().__init__(client, prompt, concurrency=concurrency, model=model)
        self._max_reasks = max_reasks

    @property
    def fingerprint(self) -> str:
        """What else changes an answer: the model chain and how replies are asked for."""
        return config_fingerprint(
            {
                "chain": list(self._client.chain(self._model)),
                "mode": self._client.config.structured_mode,
                "max_reasks": self._max_reasks,
                "temperature": 0,
            }
        )

    def variant(self, *, model: str | None = None, prompt: Prompt | None = None) -> LLMScorer:
        return LLMScorer(
            self._client,
            self._variant_prompt(prompt),
            max_reasks=self._max_reasks,
            concurrency=self._semaphore,
            model=model or self._model,
        )

    async def check(self) -> None:
        await self._client.warm_up()

    async def _score_one(self, text: str, rubric: RubricSet, axes: list[str]) -> ScoreResult:
        compiled = self._prompt.compile(rubric, axes, text)
        async with self._semaphore:
            answer = await self._client.structured(
                compiled.messages,
                compiled.spec.model,
                max_reasks=self._max_reasks,
                model=self._model,
            )
        probabilities = compiled.spec.probabilities(answer.value)
        return ScoreResult(
            axes={
                axis: AxisScores(raw=probabilities[axis], scores=normalise(probabilities[axis]))
                for axis in axes
            },
            scorer=self.name,
            model=answer.model,
            prompt=compiled.ref.tag,
            usage=answer.usage,
        )
