"""The HTTP API on provider scorers, end to end: the app's real lifespan and classifier, litellm
against the local OpenAI-wire server. Start-up check, per-ticket batch errors, the cascade share
metric and request overrides."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from support.settings import make_settings
from support.wire_server import Reply, WireServer, error, schema_filler, text

from gateway.config import PROJECT_ROOT, RetryPolicy, Settings
from gateway.errors import InvalidRequestError
from gateway.providers import Prompt, load_prompt
from gateway.rubrics import RubricSet
from gateway.scoring import Overridable, ScoreOutcome, Scorer, ScorerVariants
from gateway.server import create_app

SEED = "I was charged twice for my subscription this month. Order #12345. Please refund it."
OFF_TOPIC = "What's the weather like tomorrow in Paris?"  # the embedded model is unsure of it
BAD = "Zanzibar-7731 this one breaks the provider"


def provider_settings(tmp_path: Path, wire: WireServer, **overrides: Any) -> Settings:
    scoring: dict[str, Any] = {"scorer": "llm"}
    scoring.update(overrides)
    return make_settings(
        cache={"dir": tmp_path / "cache"},
        rubrics={"dir": PROJECT_ROOT / "rubrics"},
        provider={
            "model": "openai/test-model",
            "api_base": wire.url,
            "retry": RetryPolicy(max_retries=0),
            "deadline_s": 10.0,
        },
        redaction={"enabled": False},  # not under test here; keeps Presidio out of start-up
        scoring=scoring,
    )


@pytest.fixture
def app_for(tmp_path: Path, wire: WireServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``with app_for(scorer=...) as client``: the app, loaded (start-up check included)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # litellm reads the provider's variable

    @contextmanager
    def build(**overrides: Any) -> Iterator[TestClient]:
        settings = provider_settings(tmp_path, wire, **overrides)
        with TestClient(create_app(settings, wait=True)) as client:
            yield client

    yield build


def scored_by(client: TestClient) -> dict[str, float]:
    """``gateway_scored_by_total`` per scorer, as Prometheus scrapes it."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        if family.name == "gateway_scored_by":
            return {
                s.labels["scorer"]: s.value for s in family.samples if s.name.endswith("_total")
            }
    raise AssertionError("gateway_scored_by is not exported")


# --------------------------------------------------------------------------- start-up check


def test_a_logprob_model_without_logprobs_fails_at_start_up(app_for: Any, wire: WireServer) -> None:
    wire.responder = lambda body: text("A")  # this server ignores logprobs=true
    with app_for(scorer="logprob") as client:
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "failed"
        assert "no logprobs" in health.json()["startup_error"]
        resp = client.post("/classify", json={"text": SEED})
        assert resp.status_code == 503
        error_body = resp.json()["error"]
        assert error_body["code"] == "not_ready"
        assert "failed to start" in error_body["message"]
        assert "no logprobs" in error_body["message"]
    assert len(wire.requests) == 1  # the probe; no ticket was sent


def test_a_provider_outage_at_start_up_does_not_keep_the_server_down(
    app_for: Any, wire: WireServer
) -> None:
    wire.script(error(500))  # the start-up probe meets an outage (no retries configured)
    with app_for(scorer="logprob") as client:
        health = client.get("/healthz")
        assert health.status_code == 200  # serving, degraded: the outage is the provider's
        assert (health.json()["status"], health.json()["startup_error"]) == ("degraded", None)
        assert health.json()["provider"]["error"] == "HTTP 500"
        (probe,) = wire.requests  # the check ran, met the outage, and was skipped
        assert probe.body["logprobs"] is True
        wire.responder = schema_filler  # the provider is back: logprobs for every call
        resp = client.post("/classify", json={"text": SEED})
        assert resp.status_code == 200, resp.text
        assert resp.json()["scorer"] == "logprob"
        assert client.get("/healthz").json()["status"] == "ready"  # seen again


def test_a_working_provider_passes_the_check(app_for: Any, wire: WireServer) -> None:
    wire.responder = schema_filler
    with app_for(scorer="logprob") as client:
        health = client.get("/healthz").json()
        assert (health["status"], health["scorer"], health["startup_error"]) == (
            "ready",
            "logprob",
            None,
        )
    assert wire.requests[0].body["logprobs"] is True


# --------------------------------------------------------------------------- batch isolation


@pytest.mark.parametrize(
    ("status", "code"), [(401, "provider_error"), (500, "provider_unavailable")]
)
def test_one_tickets_provider_failure_does_not_fail_the_batch(
    app_for: Any, wire: WireServer, status: int, code: str
) -> None:
    def by_ticket(body: dict[str, Any]) -> Reply:
        if "Zanzibar" in body["messages"][-1]["content"]:
            return error(status)
        return schema_filler(body)

    wire.responder = by_ticket
    items = [{"text": SEED}, {"text": BAD}, {"text": OFF_TOPIC}]
    with app_for(scorer="llm") as client:
        resp = client.post("/classify/batch", json={"items": items})
        assert resp.status_code == 200
        body = resp.json()
        assert (body["ok"], body["failed"]) == (2, 1)
        first, failed, last = body["results"]
        assert first["result"]["scorer"] == last["result"]["scorer"] == "llm"
        assert failed["result"] is None
        assert failed["error"]["code"] == code
        assert "Zanzibar" not in resp.text
        # the failure was not cached: once the provider answers, only that ticket is re-scored
        wire.responder = schema_filler
        calls = len(wire.requests)
        again = client.post("/classify/batch", json={"items": items}).json()
        assert again["ok"] == 3
        assert [r["result"]["cached"] for r in again["results"]] == [True, False, True]
        assert len(wire.requests) == calls + 1


# --------------------------------------------------------------------------- cascade share


def test_cascade_share_is_counted_and_reported(app_for: Any, wire: WireServer) -> None:
    wire.responder = schema_filler
    with app_for(scorer="cascade") as client:
        before = scored_by(client)
        assert {"local", "llm", "logprob", "local-fallback"} <= set(before)
        items = [{"text": SEED}, {"text": OFF_TOPIC}]
        results = client.post("/classify/batch", json={"items": items}).json()["results"]
        assert [r["result"]["scorer"] for r in results] == ["local", "llm"]
        after = scored_by(client)
        assert after["local"] == before["local"] + 1
        assert after["llm"] == before["llm"] + 1
        # cache hits are not scoring: the share counts work done
        cached = client.post("/classify/batch", json={"items": items}).json()["results"]
        assert all(r["result"]["cached"] for r in cached)
        assert scored_by(client) == after
    assert len(wire.requests) == 1  # only the unsure ticket reached the LLM


# --------------------------------------------------------------------------- overrides


def test_overrides_are_refused_unless_allowed(app_for: Any, wire: WireServer) -> None:
    wire.responder = schema_filler
    with app_for(scorer="llm") as client:
        for override in ({"prompt": "classify.v1"}, {"model": "openai/other-model"}):
            resp = client.post("/classify", json={"text": SEED, **override})
            assert resp.status_code == 422
            assert "GATEWAY_ALLOW_OVERRIDES" in resp.json()["error"]["message"]
        # naming what the server runs is not an override
        served = client.post(
            "/classify", json={"text": SEED, "prompt": "classify.v3", "model": "openai/test-model"}
        )
        assert served.status_code == 200, served.text


def test_allowed_overrides_pick_a_reused_variant_with_its_own_cache_entries(
    app_for: Any, wire: WireServer
) -> None:
    wire.responder = schema_filler
    overrides = {"prompt": "classify.v1", "model": "openai/other-model"}
    with app_for(
        scorer="llm", allow_overrides=True, override_models=["openai/other-model"]
    ) as client:
        first = client.post("/classify", json={"text": SEED, **overrides}).json()
        assert first["model"] == "openai/other-model"
        assert first["prompt"].startswith("classify.v1@")
        assert wire.requests[-1].body["model"] == "other-model"
        assert client.post("/classify", json={"text": SEED, **overrides}).json()["cached"]
        # the served scorer does not share the override's cache entry
        plain = client.post("/classify", json={"text": SEED}).json()
        assert (plain["cached"], plain["model"]) == (False, "openai/test-model")
        assert plain["prompt"].startswith("classify.v3@")
        # a prompt override alone; then a batch mixing three scorers
        batch = client.post(
            "/classify/batch",
            json={
                "items": [
                    {"text": OFF_TOPIC},
                    {"text": OFF_TOPIC, "prompt": "classify.v1"},
                    {"text": OFF_TOPIC, **overrides},
                ]
            },
        ).json()["results"]
        assert [(r["result"]["model"], r["result"]["prompt"][:11]) for r in batch] == [
            ("openai/test-model", "classify.v3"),
            ("openai/test-model", "classify.v1"),
            ("openai/other-model", "classify.v1"),
        ]
        classifier = client.app.state.gateway.classifier  # type: ignore[attr-defined]
        assert len(classifier.variants) == 2  # built once per distinct (model, prompt)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"model": "openai/gpt-4o"}, "not allowed here"),
        ({"prompt": "classify.v9"}, "unknown prompt"),
        ({"prompt": "label_code.v1"}, "needs a structured"),
        ({"prompt": "classify.v1@00000000"}, "this gateway's classify.v1 is classify.v1@"),
    ],
)
def test_allowed_overrides_are_still_checked(
    app_for: Any, wire: WireServer, override: dict[str, str], message: str
) -> None:
    wire.responder = schema_filler
    with app_for(scorer="llm", allow_overrides=True) as client:
        resp = client.post("/classify", json={"text": SEED, **override})
        assert resp.status_code == 422
        assert message in resp.json()["error"]["message"]
    assert wire.requests == []


def test_a_prompt_override_on_the_local_scorer_is_a_clear_422(tmp_path: Path) -> None:
    settings = make_settings(
        cache={"dir": tmp_path / "cache"},
        redaction={"enabled": False},
        scoring={"allow_overrides": True, "scorer": "local"},
    )
    with TestClient(create_app(settings, wait=True)) as client:
        resp = client.post("/classify", json={"text": SEED, "prompt": "classify.v2"})
        assert resp.status_code == 422
        assert "does not apply to the local scorer" in resp.json()["error"]["message"]
        model = client.post("/classify", json={"text": SEED, "model": "openai/gpt-4o"})
        assert model.status_code == 422
        assert "runs only" in model.json()["error"]["message"]


class Variable:
    """A Scorer with variants, recording how many it built."""

    def __init__(self, model: str = "m0", prompt: str | None = "classify.v2@x") -> None:
        self._model, self._prompt = model, prompt
        self.built = 0

    name = "llm"
    fingerprint = "fp"
    batches = False

    @property
    def model(self) -> str:
        return self._model

    @property
    def prompt(self) -> str | None:
        return self._prompt

    def variant(self, *, model: str | None = None, prompt: Prompt | None = None) -> Scorer:
        self.built += 1
        return Variable(model or self._model, prompt.ref.tag if prompt else self._prompt)

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        raise AssertionError("not scored in these tests")


def test_variants_are_built_once_and_bounded() -> None:
    base = Variable()
    assert isinstance(base, Overridable) and isinstance(base, Scorer)
    settings = make_settings(
        scoring={"allow_overrides": True, "override_models": ["m1", "m2", "m3"]}
    )
    variants = ScorerVariants(base, settings.scoring, max_variants=2)
    assert variants.for_request(None, None) is base
    assert variants.for_request("m0", "classify.v2") is base  # what it serves already
    one = variants.for_request("m1", None)
    assert variants.for_request("m1", None) is one
    assert base.built == 1
    variants.for_request("m2", None)
    variants.for_request("m3", None)  # evicts m1, the least recently used
    assert len(variants) == 2
    assert variants.for_request("m1", None) is not one
    assert base.built == 4
    tagged = variants.for_request(None, "classify.v1")
    assert tagged.prompt == load_prompt("classify.v1").ref.tag
    with pytest.raises(InvalidRequestError, match="not allowed"):
        variants.for_request("m9", None)
