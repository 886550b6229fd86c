"""The why behind each axis: what the embedded model matched (the rubric's own text, never the
ticket's), the window of a long ticket, and the rule that forced an answer with its span."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gateway.config import PROJECT_ROOT
from gateway.rubrics import load_rubric_file
from gateway.scoring.local import label_texts

SUPPORT = load_rubric_file(PROJECT_ROOT / "rubrics" / "support.yaml")


def rubric_texts(axis: str, label: str) -> list[str]:
    (found,) = [lb for lb in SUPPORT.axes[axis].labels if lb.name == label]
    return label_texts(found)


def test_the_embedded_model_names_the_rubric_text_it_matched(client: TestClient) -> None:
    text = "Why did you take money from my card twice for one order? Contact me at ana@example.com"
    body = client.post("/classify", json={"text": text, "rubric": "support"}).json()
    evidence = body["evidence"]
    assert evidence["source"] == "embedding" and evidence["label"] == body["top_label"]
    assert evidence["matched"] in rubric_texts(body["axis"], body["top_label"])
    assert evidence["matched_kind"] in {"topic", "name", "example"}
    assert 0 < evidence["similarity"] <= 1 and evidence["window"] is None
    for name, axis in body["axes"].items():
        assert axis["evidence"]["label"] == axis["top_label"]
        if name == "sentiment":  # signal: sentiment, answered by the packaged head
            assert axis["evidence"]["source"] == "head" and axis["evidence"]["matched"] is None
            continue
        assert axis["evidence"]["matched"] in rubric_texts(name, axis["top_label"])
    assert "ana@example.com" not in str(body) and "twice for one order" not in str(evidence)


def test_a_forced_axis_names_the_rule_and_where_it_matched(client: TestClient) -> None:
    text = "Our production site is down and none of the dashboards load since this morning."
    body = client.post("/classify", json={"text": text, "rubric": "support"}).json()
    priority = body["axes"]["priority"]
    assert priority["top_label"] == "critical" and priority["forced_by"] == "outage"
    evidence = priority["evidence"]
    assert evidence["source"] == "rule" and evidence["rule"] == "outage"
    start, end = evidence["span"]
    assert text[start:end].lower().startswith("site is down")  # a position, not the text
    assert evidence["matched"] is None


def test_a_long_ticket_says_which_window_matched(client: TestClient) -> None:
    filler = "I have been a customer for years and I am writing this on my lunch break. " * 80
    text = f"{filler}\n\nI was charged twice for my subscription and I want my money back."
    body = client.post("/classify", json={"text": text, "rubric": "support"}).json()
    assert body["top_label"] == "billing"
    assert body["reading"]["cut"] is True
    assert body["evidence"]["window"] == body["reading"]["read"] - 1  # the last window read
