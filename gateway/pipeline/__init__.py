"""The pipeline of DESIGN.md §1: validate, redact, rules, score (through the cache), decide.

classifier   Classifier: the flow, and nothing else; every stage injected
build        build_classifier / check_classifier: the areas' builders, assembled
rules        deterministic rules on text, metadata and answers: flags, forced outcomes
decision     decide_axis, decide_ticket: thresholds, floors, rules, fallback downgrade
calibration  stored calibrations (``rubric calibrate``), applied after the cache
fit_score    the none_fits fit score a calibration's floor is on
batching     MicroBatcher: concurrent requests share a batch on a batch-native scorer
observer     PipelineObserver (metrics), TimedScorer
heads        Heads: trained heads in shadow and promoted, read from the model registry
"""

from gateway.pipeline.batching import MicroBatcher
from gateway.pipeline.build import (
    GatewayObserver,
    NullGatewayObserver,
    build_classifier,
    check_classifier,
)
from gateway.pipeline.calibration import (
    Calibration,
    CalibrationFinder,
    CalibrationKey,
    CalibrationStore,
    NoCalibrations,
    calibration_path,
    load_calibration,
    read_calibration_file,
    save_calibration,
)
from gateway.pipeline.classifier import Classifier
from gateway.pipeline.decision import decide_axis, decide_ticket, ticket_route
from gateway.pipeline.fit_score import LabelTraffic, lifted_best, raw_logits
from gateway.pipeline.heads import HeadRegistry, Heads
from gateway.pipeline.observer import NullPipelineObserver, PipelineObserver, TimedScorer
from gateway.pipeline.rules import apply_rules, settle_rules

__all__ = [
    "Calibration",
    "CalibrationFinder",
    "CalibrationKey",
    "CalibrationStore",
    "Classifier",
    "GatewayObserver",
    "HeadRegistry",
    "Heads",
    "LabelTraffic",
    "MicroBatcher",
    "NoCalibrations",
    "NullGatewayObserver",
    "NullPipelineObserver",
    "PipelineObserver",
    "TimedScorer",
    "apply_rules",
    "build_classifier",
    "calibration_path",
    "check_classifier",
    "decide_axis",
    "decide_ticket",
    "lifted_best",
    "load_calibration",
    "raw_logits",
    "read_calibration_file",
    "save_calibration",
    "settle_rules",
    "ticket_route",
]
