from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gateway.errors import ModelFileError
from gateway.scoring.encoder import TOKENIZER_PATH, Encoder
from gateway.scoring.local import LocalScorer, topic_of

FIXTURE = Path(__file__).parents[1] / "fixtures" / "minilm_fp32_embeddings.json"


def test_int8_model_is_faithful_to_full_precision(local_scorer: LocalScorer) -> None:
    """Embeddings of the shipped int8 model vs. all-MiniLM-L6-v2 in fp32 (made by
    bench/make_fidelity_fixture.py with PyTorch): cosine ≥ 0.999 on every sentence."""
    fixture = json.loads(FIXTURE.read_text())
    reference = np.asarray(fixture["embeddings"], dtype=np.float64)
    ours = local_scorer._encoder.embed(fixture["sentences"]).astype(np.float64)
    cosines = (ours * reference).sum(axis=1) / np.linalg.norm(reference, axis=1)
    assert len(cosines) >= 8
    assert cosines.min() >= 0.999, cosines


@pytest.fixture(scope="module")
def bare() -> Encoder:
    """No recent-rows memo: every call computes."""
    return Encoder()


def test_embeddings_are_unit_vectors_in_input_order(bare: Encoder) -> None:
    enc = bare
    texts = ["refund", "The app crashes every time I open the settings page after the update"]
    both = enc.embed(texts)
    assert np.allclose(np.linalg.norm(both, axis=1), 1.0, atol=1e-5)
    # batching (and length-sorting inside it) gives the same vectors as one at a time
    assert np.allclose(both[1], enc.embed(texts[1:])[0], atol=1e-4)
    assert enc.embed([]).shape == (0, 384)


def test_tampered_model_file_is_named_in_the_error(tmp_path: Path) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_bytes(TOKENIZER_PATH.read_bytes() + b" ")
    with pytest.raises(ModelFileError, match=r"tokenizer\.json does not match its pinned sha256"):
        Encoder(tokenizer_path=bad)
    with pytest.raises(ModelFileError, match=r"missing\.onnx cannot be read"):
        Encoder(model_path=tmp_path / "missing.onnx")


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        (
            "Is this text about a billing issue, charge, or refund?",
            "a billing issue, charge, or refund",
        ),
        ("Does the customer mention a lawyer?", "a lawyer"),
        ("Late delivery", "Late delivery"),
        # frames beyond "Is this text about" (issue 16, defect 9)
        ("Is this complaint about late delivery?", "late delivery"),
        ("Does the customer want a refund?", "a refund"),
        ("Is the customer asking to cancel the subscription?", "cancel the subscription"),
        ("Does this message concern a login problem?", "a login problem"),
        ("Would the customer like to upgrade their plan?", "upgrade their plan"),
        ("Is this support ticket about a refund?", "a refund"),
        ("Is it a question about shipping?", "shipping"),
        ("Is the intent to thank someone?", "thank someone"),
        ("Is this ticket a complaint about staff?", "a complaint about staff"),
        # a subject that is the topic keeps its words; only the auxiliary goes
        ("Is the payment failing?", "the payment failing"),
        ("Is this an emergency?", "an emergency"),
    ],
)
def test_topic_of_strips_the_question_frame(question: str, topic: str) -> None:
    assert topic_of(question) == topic


def test_recent_rows_are_the_same_vectors_computed_once(
    bare: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    enc = Encoder(recent=3)
    computed: list[str] = []
    inner = enc._embed

    def counting(texts: list[str]) -> np.ndarray:
        computed.extend(texts)
        return inner(texts)

    monkeypatch.setattr(enc, "_embed", counting)
    texts = ["refund please", "app crashes", "refund please", "login fails"]
    first = enc.embed(texts)
    assert computed == ["refund please", "app crashes", "login fails"]  # each distinct once
    assert np.allclose(first, bare.embed(texts), atol=1e-6)
    again = enc.embed(["login fails", "app crashes"])
    assert computed == ["refund please", "app crashes", "login fails"]  # all from the memo
    assert np.array_equal(again, first[[3, 1]])
    again[:] = 0  # a caller's array is its own
    assert np.array_equal(enc.embed(["app crashes"])[0], first[1])
    # bounded: a fourth text evicts the least recently used ("refund please")
    enc.embed(["invoice missing"])
    assert len(enc._recent) == 3
    enc.embed(["refund please"])
    assert computed[-1] == "refund please"
