"""The UNet's orientation choice as a component of its own: orientation_head.onnx, U [B,L,d] -> the
softmax weights [B,8] of the 8 orientations (OrientationMix, in the order of models.unet.orientations).
The full-size renderer flips or rotates the photo itself exactly by the model's choice instead of
resampling the model's low-resolution pixels.

It is cut out of unet.onnx (the subgraph from `context` to the orientation softmax), so it is the
UNet's own weights and arithmetic, and a model directory exported before it existed can get one:

  python3 -m mgie_train.orientation_head models/mgie-e2e [models/lgie ...]
"""
from __future__ import annotations

import json
import os
import sys

from .export import component_entry, extract_orientation_head, validate_manifest


def add_to_model_dir(model_dir: str) -> bool:
    """Adds orientation_head.onnx to an exported model directory and lists it in its manifest."""
    manifest_path = os.path.join(model_dir, "manifest.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    if not extract_orientation_head(
        os.path.join(model_dir, manifest["components"]["unet"]["file"]), os.path.join(model_dir, "orientation_head.onnx")
    ):
        return False
    manifest["components"]["orientation_head"] = component_entry(model_dir, "orientation_head", ["context"], ["orientation"])
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
        print(f"{model_dir}: {'added orientation_head.onnx' if added else 'its UNet has no orientation mix; nothing added'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
