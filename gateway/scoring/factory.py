"""Builds the configured scorer once at start-up (``GATEWAY_SCORER``), and checks it.

The embedded scorer is always built: it is the default and the cascade's first pass. Scorers
that call a provider are built by ``provider_scorers`` (imported only when one is configured:
litellm and instructor take seconds to import).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway.config import LocalSettings, Settings
from gateway.errors import ConfigError, GatewayError, ProviderUnavailableError
from gateway.providers import NullObserver, ProviderObserver
from gateway.redaction import Redactor

if TYPE_CHECKING:  # the type only: building a provider client imports litellm
    from gateway.providers.health import ProviderHealth
from gateway.scoring.base import Checkable, Scorer
from gateway.scoring.encoder import Encoder
from gateway.scoring.local import LocalScorer
from gateway.scoring.signals import load_signal_heads

log = logging.getLogger(__name__)


def build_local_scorer(settings: LocalSettings) -> LocalScorer:
    encoder = Encoder(
        max_tokens=settings.max_tokens,
        threads=settings.threads,
        spin=settings.spin,
        recent=settings.recent_embeddings,
    )
    return LocalScorer(encoder, settings, signals=load_signal_heads(encoder.sha256))


def build_scorer(
    settings: Settings,
    local: Scorer,
    observer: ProviderObserver | None = None,
    *,
    health: ProviderHealth | None = None,
    redactor: Redactor | None = None,
) -> Scorer:
    """The scorer ``settings`` ask for, around the embedded ``local`` one (the default and
    the cascade's first pass). ``health`` follows the provider's reachability (``/healthz``);
    ``redactor`` redacts an LLM's rationales (without one they are dropped)."""
    if settings.scorer_kind == "local":
        return local
    from gateway.scoring.provider_scorers import build_provider_scorer

    return build_provider_scorer(
        settings, local, observer or NullObserver(), health=health, redactor=redactor
    )


async def check_scorer(scorer: Scorer) -> bool:
    """Start-up checks: warms the provider path and refuses a logprob model without logprobs.

    Raises ``ConfigError`` for what a restart with other settings must fix (no logprobs, an
    unknown provider, a rejected key). Returns False, with a warning, when the provider could not
    be reached at all (every retry and fallback failed on transient faults): an outage says
    nothing about the configuration, and failing start-up for it would leave the server
    unusable until someone restarts it, long after the provider is back. Requests then meet the
    outage per ticket (503, or the local fallback) and succeed once the provider recovers.
    """
    if not isinstance(scorer, Checkable):
        return True
    try:
        await scorer.check()
    except ProviderUnavailableError as exc:
        log.warning(
            "start-up check of the %s scorer (model %s) skipped: %s", scorer.name, scorer.model, exc
        )
        return False
    except GatewayError:
        raise
    except Exception as exc:  # the start-up edge: litellm's own errors, e.g. an unknown provider
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ConfigError(
            f"start-up check of the {scorer.name} scorer (model {scorer.model!r}) failed: "
            f"{type(exc).__name__}: {first_line}"
        ) from exc
    return True
