"""The classifier the eval harness runs against: the gateway's own ``Classifier``, configured
for one run of a suite's matrix (``GatewayFactory``; ``real_factory`` is the default one).

It serves exactly the suite's rubric file (never another file of that directory with the same
``name:``), and no stored calibration: the harness applies calibrations offline, so one run
reports the numbers before and after one (``evaluate``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.config import Settings, get_settings
from gateway.evals.loading import LoadedSuite
from gateway.evals.runner import ClassifyFn
from gateway.evals.suite import RunSpec

if TYPE_CHECKING:
    from gateway.redaction import Redactor
    from gateway.scoring import LocalScorer


def eval_settings(
    base: Settings, loaded: LoadedSuite, run: RunSpec, *, cache: bool, cache_dir: Path | None
) -> Settings:
    """The deployment's settings with the run's scorer, model and prompt, the suite's rubric
    directory, and the result cache where asked. redact=false in a suite is allowed here (and
    only here)."""
    scoring: dict[str, object] = {"scorer": run.scorer}
    if run.prompt is not None:
        scoring["prompt"] = run.prompt
    cache_update: dict[str, object] = {"enabled": cache and base.cache.enabled}
    if cache_dir is not None:
        cache_update["dir"] = cache_dir
    return base.replace(
        rubrics=base.rubrics.model_copy(
            update={"dir": loaded.rubric_path.parent, "reload_interval_s": 3600.0}
        ),
        scoring=base.scoring.model_copy(update=scoring),
        provider=base.provider.model_copy(update={"model": run.model or base.provider.model}),
        cache=base.cache.model_copy(update=cache_update),
        redaction=base.redaction.model_copy(
            update={
                "allow_unredacted": base.redaction.allow_unredacted or loaded.suite.redact is False
            }
        ),
    )


@dataclass(frozen=True)
class GatewayFactory:
    """A ``ClassifierFactory`` building the gateway's ``Classifier`` per run.

    ``settings`` default to the deployment's (``get_settings()``); ``cache_dir`` replaces the
    result cache's directory (``GATEWAY_CACHE_DIR``, default ``.cache/results`` in the
    checkout); ``local`` and ``redactor``, when given, are used as they are (models already
    loaded).
    """

    settings: Settings | None = None
    cache_dir: Path | None = None
    local: LocalScorer | None = None
    redactor: Redactor | None = None

    @contextmanager
    def __call__(self, loaded: LoadedSuite, run: RunSpec, *, cache: bool) -> Iterator[ClassifyFn]:
        from gateway.pipeline import NoCalibrations, build_classifier  # models: on demand
        from gateway.rubrics import RubricStore

        base = self.settings if self.settings is not None else get_settings()
        settings = eval_settings(base, loaded, run, cache=cache, cache_dir=self.cache_dir)
        classifier = build_classifier(
            settings,
            rubrics=RubricStore(
                loaded.rubric_path.parent,
                settings.rubrics.reload_interval_s,
                files=[loaded.rubric_path],
            ),
            local=self.local,
            redactor=self.redactor,
            calibrations=NoCalibrations(),
        )
        try:
            yield classifier.classify_many
        finally:
            classifier.close()


real_factory = GatewayFactory()
