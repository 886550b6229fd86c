"""Per-request ``model``/``prompt`` overrides (``GATEWAY_ALLOW_OVERRIDES``).

The served scorer is built once at start-up. A request that names another prompt (a version id
from ``prompts/``, optionally with its hash: ``classify.v1`` or ``classify.v1@1a2b3c4d``) or
another model (one of ``GATEWAY_OVERRIDE_MODELS``) is scored by a variant of it
(``Overridable.variant``) that shares the provider client and its concurrency bound. Each
distinct (model, prompt) is built once and kept, least recently used first out beyond
``max_variants``, so a stream of distinct overrides cannot grow memory without bound.

Naming what the server already runs is never an override, so it is accepted everywhere.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from gateway.config import ScoringSettings
from gateway.errors import InvalidRequestError
from gateway.providers import Prompt, load_prompt
from gateway.scoring.base import Overridable, Scorer

MAX_VARIANTS = 32


def _unwrapped(scorer: Scorer) -> Scorer:
    return scorer


class ScorerVariants:
    """``served`` is the scorer built at start-up; ``wrap`` is applied to it and to each
    variant alike (the result cache), so ``base`` and every variant are served the same way."""

    def __init__(
        self,
        served: Scorer,
        settings: ScoringSettings,
        *,
        wrap: Callable[[Scorer], Scorer] = _unwrapped,
        max_variants: int = MAX_VARIANTS,
    ) -> None:
        self.served = served
        self.base = wrap(served)
        self.settings = settings
        self._wrap = wrap
        self.max_variants = max_variants
        self._built: OrderedDict[tuple[str | None, str | None], Scorer] = OrderedDict()
        # requests are validated in worker threads (Classifier._prepare_all)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._built)

    def wrap(self, inner: Scorer) -> Scorer:
        """``inner`` served as the others are (a part of the served scorer, e.g. a cascade's
        second, asked directly: ``pipeline.language``)."""
        return self._wrap(inner)

    def _serves_prompt(self, prompt: str) -> bool:
        served = self.served.prompt  # "classify.v2@<sha8>", or None for the embedded model
        return served is not None and prompt in (served, served.split("@")[0])

    def for_request(self, model: str | None, prompt: str | None) -> Scorer:
        """The scorer for a request's overrides; raises ``InvalidRequestError`` (422)."""
        model = None if model == self.served.model else model
        prompt = None if prompt is None or self._serves_prompt(prompt) else prompt
        if model is None and prompt is None:
            return self.base
        if not isinstance(self.served, Overridable):
            if prompt is not None:
                raise InvalidRequestError(
                    f"'prompt' does not apply to the {self.served.name} scorer (an embedded "
                    "model that uses no prompt); prompts apply to the llm, logprob and "
                    "cascade scorers"
                )
            raise InvalidRequestError(
                f"model {model!r} is not served here; the {self.served.name} scorer runs "
                f"only {self.served.model!r}"
            )
        if not self.settings.allow_overrides:
            asked = f"model {model!r}" if model is not None else f"prompt {prompt!r}"
            raise InvalidRequestError(
                f"{asked} is not served here; this gateway runs {self.served.model!r} with "
                f"{self.served.prompt} and does not allow per-request overrides "
                "(GATEWAY_ALLOW_OVERRIDES)"
            )
        if model is not None and model not in self.settings.override_models:
            allowed = [self.served.model, *self.settings.override_models]
            raise InvalidRequestError(
                f"model {model!r} is not allowed here; allowed: {allowed} (GATEWAY_OVERRIDE_MODELS)"
            )
        loaded = self._load_prompt(prompt) if prompt is not None else None
        key = (model, loaded.ref.tag if loaded is not None else None)
        with self._lock:
            hit = self._built.get(key)
            if hit is not None:
                self._built.move_to_end(key)
                return hit
        built = self._wrap(self.served.variant(model=model, prompt=loaded))
        with self._lock:
            # another thread may have built the same variant meanwhile: keep the first
            kept = self._built.setdefault(key, built)
            self._built.move_to_end(key)
            while len(self._built) > self.max_variants:
                self._built.popitem(last=False)
        return kept

    def _load_prompt(self, ref: str) -> Prompt:
        version, _, sha = ref.partition("@")
        loaded = load_prompt(version, self.settings.prompts_dir)
        if sha and not loaded.ref.sha.startswith(sha):
            raise InvalidRequestError(
                f"prompt {ref!r}: this gateway's {loaded.ref.id} is {loaded.ref.tag}"
            )
        return loaded
