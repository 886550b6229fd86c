"""rubric-gateway: zero-shot classification of support tickets against YAML rubrics.

Public API::

    from gateway import Classifier, classify, load_rubrics
    result = classify("I was charged twice", rubric="support")
"""

from __future__ import annotations

import os

# litellm fetches its model cost map over the network at import unless told not to; set it
# before anything in the package can import litellm.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import asyncio
import atexit
import threading

from gateway.config import Settings, get_settings
from gateway.errors import GatewayError
from gateway.pipeline import Classifier
from gateway.rubrics import RubricSet, load_rubrics, parse_rubric
from gateway.schemas import ClassifyRequest, ClassifyResponse

__all__ = [
    "Classifier",
    "ClassifyRequest",
    "ClassifyResponse",
    "GatewayError",
    "RubricSet",
    "Settings",
    "classify",
    "load_rubrics",
    "parse_rubric",
]


class _Default:
    """The default classifier and the one event loop it runs on, built on first use.

    One ``asyncio.Runner`` for the process: the classifier's micro-batcher, single-flight and
    provider clients belong to one loop, so every call must run on the same one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runner: asyncio.Runner | None = None
        self._classifier: Classifier | None = None

    def classify(self, req: ClassifyRequest) -> ClassifyResponse:
        with self._lock:  # a Runner runs one coroutine at a time
            if self._runner is None:
                from gateway.pipeline import build_classifier

                self._classifier = build_classifier(get_settings())
                self._runner = asyncio.Runner()
                atexit.register(self._close)
            assert self._classifier is not None
            return self._runner.run(self._classifier.classify(req))

    def _close(self) -> None:
        if self._runner is not None:
            self._runner.close()
        if self._classifier is not None:
            self._classifier.close()


_default = _Default()


def classify(text: str, rubric: str | None = None) -> ClassifyResponse:
    """Classify one ticket with the default settings (synchronous convenience wrapper; not
    for use inside a running event loop: there, build a ``Classifier`` and await it)."""
    return _default.classify(ClassifyRequest(text=text, rubric=rubric))
