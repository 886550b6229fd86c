"""The ``llm`` scorer: a compiled prompt answered by any litellm model through instructor.

One call per ticket answers every requested axis. The reply is validated against a response
model built from the rubric (label keys, ``Literal`` choices, probabilities in [0, 1]); invalid
replies are re-asked up to ``max_reasks`` times, so a label that does not exist never gets past
this module. ``raw`` is each label's own P(yes). ``scores``, the distribution, comes from the
answer's ``choice`` where the prompt asks for one: from the token log-probabilities of the chosen
label name where the provider returns them (``token_choice``; verbalised probabilities are
poorly calibrated, and in practice mostly 0 or 1), else the normalised P(yes) averaged with the
choice, so that the two disagreeing lowers the confidence. Prompts without a choice: ``raw``
normalised.
Each result says how the answer was asked for (``structured_output``: the provider's native JSON
schema, or JSON mode), and its length is bounded by the client (``max_tokens`` from the schema).
"""

from __future__ import annotations

import asyncio

import anyio.to_thread
from pydantic import BaseModel

from gateway.errors import ProviderUnavailableError
from gateway.providers import RATIONALE_MAX_CHARS, Prompt, ProviderClient, Structured
from gateway.redaction import Redactor
from gateway.rubrics import RubricSet
from gateway.schemas import Evidence
from gateway.scoring.base import AxisScores, ScoreResult, config_fingerprint
from gateway.scoring.distribution import normalise, top_label
from gateway.scoring.provider import ProviderScorer
from gateway.scoring.token_choice import blended, choice_distribution

TOP_LOGPROBS = 10  # alternatives per token: enough for the labels a name's first token starts


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
        redactor: Redactor | None = None,
        top_logprobs: int = TOP_LOGPROBS,
    ) -> None:
        super().__init__(client, prompt, concurrency=concurrency, model=model)
        self._max_reasks = max_reasks
        self._top_logprobs = top_logprobs  # 0: never ask for logprobs
        # A rationale can quote what the redactor missed or the model made up: it is redacted
        # like a ticket before it is cached or answered. Without a redactor it is not kept.
        self._redactor = redactor

    @property
    def fingerprint(self) -> str:
        """What else changes an answer: the model chain and how replies are asked for."""
        return config_fingerprint(
            {
                "chain": list(self._client.chain(self._model)),
                # how each model is asked (auto resolves per model, from litellm's table)
                "modes": [self._client.structured_mode(m) for m in self._client.chain(self._model)],
                "provider": self._client.config.answer_fields(),
                "max_reasks": self._max_reasks,
                "temperature": 0,
                "choice_logprobs": self._top_logprobs,
            }
        )

    def variant(self, *, model: str | None = None, prompt: Prompt | None = None) -> LLMScorer:
        return LLMScorer(
            self._client,
            self._variant_prompt(prompt),
            max_reasks=self._max_reasks,
            concurrency=self._semaphore,
            model=model or self._model,
            redactor=self._redactor,
            top_logprobs=self._top_logprobs,
        )

    async def check(self) -> None:
        """Warm the call path, and probe the provider (``GET <api base>/models``): an
        unreachable one is reported (``check_scorer`` then starts the server degraded)."""
        await self._client.warm_up()
        status = await self._client.probe()
        if status.reachable is False:
            raise ProviderUnavailableError(
                f"the provider of model {self.model!r} is unreachable ({status.error})"
            )

    async def _score_one(self, text: str, rubric: RubricSet, axes: list[str]) -> ScoreResult:
        compiled = self._prompt.compile(rubric, axes, text)
        async with self._semaphore:
            answer = await self._client.structured(
                compiled.messages,
                compiled.spec.model,
                max_reasks=self._max_reasks,
                model=self._model,
                top_logprobs=self._top_logprobs if compiled.spec.shape_has_choice else None,
            )
        spec = compiled.spec
        probabilities = spec.probabilities(answer.value)
        choices = spec.choices(answer.value)
        rationales = await self._redacted(spec.rationales(answer.value))
        axes_scored = {}
        for view in spec.axes:
            axis = view.name
            scores = _distribution(answer, view.key, probabilities[axis], choices.get(axis))
            rationale = rationales.get(axis)
            evidence = (
                Evidence(source="llm", label=top_label(scores), rationale=rationale)
                if rationale
                else None
            )
            axes_scored[axis] = AxisScores(
                raw=probabilities[axis], scores=scores, evidence=evidence
            )
        return ScoreResult(
            axes=axes_scored,
            scorer=self.name,
            model=answer.model,
            prompt=compiled.ref.tag,
            usage=answer.usage,
            structured_output=answer.mode,
        )

    async def _redacted(self, rationales: dict[str, str]) -> dict[str, str]:
        if self._redactor is None or not rationales:
            return {}
        names = list(rationales)
        done = await anyio.to_thread.run_sync(
            self._redactor.redact_batch, [rationales[n] for n in names]
        )
        # redaction normalises ("…" becomes "..."), so the bound is applied again after it
        return {name: _bounded(r.text) for name, r in zip(names, done, strict=True)}


def _distribution(
    answer: Structured[BaseModel], axis_key: str, p_yes: dict[str, float], chosen: str | None
) -> dict[str, float]:
    if chosen is None:
        return normalise(p_yes)
    if answer.tokens:
        names = list(p_yes)
        from_tokens = choice_distribution(answer.content, answer.tokens, axis_key, names, chosen)
        if from_tokens is not None:
            return from_tokens
    return blended(p_yes, chosen)


def _bounded(text: str) -> str:
    return text if len(text) <= RATIONALE_MAX_CHARS else text[: RATIONALE_MAX_CHARS - 1] + "…"
