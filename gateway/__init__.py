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
from functools import lru_cache

from gateway.config import Settings, get_settings
from gateway.errors import GatewayError
from gateway.pipeline.classifier import Classifier
from gateway.rubrics.model import RubricSet, load_rubrics, parse_rubric
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


@lru_cache(maxsize=1)
def _default_classifier() -> Classifier:
    from gateway.server.app import build_classifier

    return build_classifier(get_settings())


def classify(text: str, rubric: str | None = None) -> ClassifyResponse:
    """Classify one ticket with the default settings (synchronous convenience wrapper)."""
    return asyncio.run(_default_classifier().classify(ClassifyRequest(text=text, rubric=rubric)))
