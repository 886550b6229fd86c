"""What the scorers that call a provider share (``llm``, ``logprob``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from typing import TypeVar

from gateway.errors import GatewayError, InvalidRequestError
from gateway.providers import Prompt, PromptRef, ProviderClient
from gateway.rubrics import RubricSet
from gateway.scoring.base import ScoreOutcome, ScoreResult

T = TypeVar("T")


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


class ProviderScorer:
    """What the scorers that call a provider share: the client, a prompt of one kind, an optional
    model override and one concurrency bound. Subclasses score one ticket in ``_score_one``."""

    name = "provider"
    prompt_kind = ""
    batches = False  # each ticket is its own provider call: nothing to gain from batching

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
        chosen = rubric.select_axes(list(axes) or None)
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
