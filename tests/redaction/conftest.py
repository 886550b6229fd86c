"""Redaction fixtures: the real spaCy model and one real ``PresidioRedactor`` (no mocks).

The model (``spacy_model``, in tests/conftest.py) takes seconds to load, so it is loaded once per
test session and injected into every ``PresidioRedactor`` a test builds (settings, entity
subsets), as the gateway loads it once per process.
"""

from __future__ import annotations

import pytest

from gateway.redaction import PresidioRedactor, SpacyModel


@pytest.fixture(scope="session")
def redactor(spacy_model: SpacyModel) -> PresidioRedactor:
    """Built once for the whole session, as the gateway builds it once per process."""
    return PresidioRedactor(spacy_model)
