"""The UNet's orientation choice as a component of its own: orientation_head.onnx, U [B,L,d] -> the
softmax weights [B,8] of the 8 orientations (OrientationMix, in the order of models.unet.orientations).
The full-size renderer flips or rotates the photo itself exactly by the model's choice instead of
resampling the model's low-resolution pixels.

It is cut out of unet.onnx (the subgraph from `context` to the orientation softmax), so it is the
UNet's own weights and arithmetic, and a model directory exported before it existed can get one:

  python3 -m mgie_train.orientation_head models/mgie-e2e [models/lgie ...]
"""
from __future__ import annotations

import hashlib
import json
import os
import sys

import onnx
from onnx import utils as onnx_utils

FILE = "orientation_head.onnx"
# The node OrientationMix's softmax becomes in the exported UNet (module path "orientation").
SOFTMAX = "/orientation/Softmax"


def extract(unet_path: str, out_path: str) -> bool:
    """Writes the orientation subgraph of `unet_path` to `out_path`; False when the UNet has no orientation mix."""
    unet = onnx.load(unet_path)
    softmax = [n for n in unet.graph.node if n.op_type == "Softmax" and n.name == SOFTMAX]
    if not softmax:
        return False
    head = onnx_utils.Extractor(unet).extract_model(["context"], [softmax[0].output[0]])
    old = head.graph.output[0].name
    for node in head.graph.node:
        node.output[:] = ["orientation" if o == old else o for o in node.output]
    head.graph.ClearField("output")
    head.graph.output.append(onnx.helper.make_tensor_value_info("orientation", onnx.TensorProto.FLOAT, ["batch", 8]))
    onnx.checker.check_model(head)
    onnx.save(head, out_path)
    return True


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def entry(model_dir: str) -> dict:
    """The manifest's component entry for the orientation head written in `model_dir`."""
    path = os.path.join(model_dir, FILE)
    size = os.path.getsize(path)
    return {"file": FILE, "bytes": size, "sha256": sha256(path), "inputs": ["context"], "outputs": ["orientation"]}


def add_to_model_dir(model_dir: str) -> bool:
    """Adds orientation_head.onnx to an exported model directory and lists it in its manifest."""
    from .export import validate_manifest

    manifest_path = os.path.join(model_dir, "manifest.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    if not extract(os.path.join(model_dir, manifest["components"]["unet"]["file"]), os.path.join(model_dir, FILE)):
        return False
    manifest["components"]["orientation_head"] = entry(model_dir)
    validate_manifest(manifest)
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
    return True


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 1
    for model_dir in argv:
        added = add_to_model_dir(model_dir)
        print(f"{model_dir}: {'added ' + FILE if added else 'its UNet has no orientation mix; nothing added'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
