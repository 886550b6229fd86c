"""Scoring: the ``Scorer`` protocol and every way of turning redacted text into per-label
probabilities (DESIGN.md §1, §5).

    base          Scorer, ScoreResult, AxisScores; capabilities (Checkable, Overridable); Wrapper
    distribution  raw scores → a distribution, top label, margin, entropy
    encoder       the embedded MiniLM encoder (onnxruntime)
    local         LocalScorer: the embedded model (the default)
    cascade       CascadeScorer: local first, a provider scorer where local is unsure
    head          TrainedHead, load_head, HeadScorer: a head trained on reviewers' labels
    head_cascade  HeadCascade: a promoted head first, the previous scorer where it is unsure
    fallback      LocalFallbackScorer: the embedded model's answer during a provider outage
    blend         BlendScorer, mixed, unmixed: an LLM's distribution mixed with the embedded model's
    variants      per-request model/prompt overrides
    factory       build_local_scorer, build_scorer, check_scorer

The provider scorers (``llm``, ``logprob``; built by ``provider_scorers``) are not imported
here: they import litellm and instructor, which take seconds and are not needed by the
embedded model. ``build_scorer`` imports them when a provider is configured.
"""

from gateway.scoring.base import (
    LOCAL_FALLBACK,
    AxisScores,
    Checkable,
    Overridable,
    ScoreOutcome,
    Scorer,
    ScoreResult,
    Wrapper,
    config_fingerprint,
)
from gateway.scoring.blend import BlendScorer, mixed, unmixed
from gateway.scoring.cascade import CascadeScorer, CascadeStats
from gateway.scoring.distribution import (
    entropy,
    logistic,
    margin,
    normalise,
    softmax,
    top_label,
)
from gateway.scoring.encoder import Encoder
from gateway.scoring.factory import build_local_scorer, build_scorer, check_scorer
from gateway.scoring.fallback import LocalFallbackScorer, as_local_fallback
from gateway.scoring.head import Embedder, HeadMeta, HeadScorer, TrainedHead, head_id, load_head
from gateway.scoring.head_cascade import HeadCascade, HeadCascadeStats
from gateway.scoring.local import LocalScorer
from gateway.scoring.variants import ScorerVariants

__all__ = [
    "LOCAL_FALLBACK",
    "AxisScores",
    "BlendScorer",
    "CascadeScorer",
    "CascadeStats",
    "Checkable",
    "Embedder",
    "Encoder",
    "HeadCascade",
    "HeadCascadeStats",
    "HeadMeta",
    "HeadScorer",
    "LocalFallbackScorer",
    "LocalScorer",
    "Overridable",
    "ScoreOutcome",
    "ScoreResult",
    "Scorer",
    "ScorerVariants",
    "TrainedHead",
    "Wrapper",
    "as_local_fallback",
    "build_local_scorer",
    "build_scorer",
    "check_scorer",
    "config_fingerprint",
    "entropy",
    "head_id",
    "load_head",
    "logistic",
    "margin",
    "mixed",
    "normalise",
    "softmax",
    "top_label",
    "unmixed",
]
