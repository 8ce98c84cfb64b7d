"""ONNX export of one editing model into a model directory that the TypeScript runtime loads:

  manifest.json        what is here: component files with shapes and sha256, sizes, tokenizer,
                       latent scale, guidance defaults, how it was trained
  tokenizer.json       the BPE merges and special ids
  vae_encoder.onnx     image [B,3,H,W] in [-1,1] -> scaled latent [B,C,h,w]
  vae_decoder.onnx     scaled latent -> image in [-1,1]
  unet.onnx            (noisy latent (+) image latent) [B,2C,h,w], timestep [B], U [B,L,d] -> noise [B,C,h,w]
                       (MGIE: U's last rows, one per image cell, also enter as a map at the input)
  MGIE / LGIE:
  prefix.onnx          image -> [BOS, image features] embeddings [B,1+P,dim]   (MGIE only)
  embed.onnx           token ids [B,T] -> embeddings [B,T,dim]
  instruction.onnx     the instruction's MiniLM states [B,T,384] -> prompt embeddings [B,T,dim]
  lm.onnx              embeddings [B,T,dim], past k/v [layers,B,heads,P,hd] -> logits, hidden, present k/v
  edit_head.onnx       [IMG] hidden states [B,N,dim] (+ MGIE: the prefix's image cells [B,P,dim]) -> U [B,L,d]
  region_head.onnx     U [B,L,d] -> the edit's region [B,1,H,W] (MGIE with a trained region head only)
  orientation_head.onnx U [B,L,d] -> the weights of the UNet's 8 orientations [B,8] (a UNet with the
                       orientation mix; cut out of unet.onnx)
  InsPix2Pix:
  text_encoder.onnx    the instruction's MiniLM states [B,T,384], mask [B,T] -> U [B,L,d]
  expressive.json      every expressive instruction the model was trained to give (from the dataset's
                       expressive.json): the runtime decodes only these

The instruction encoder (MiniLM, models/minilm/) is shared by every model and named in the manifest.

With `parity=True` it also writes parity/*.npy: fixed inputs and PyTorch's outputs for each component,
which the TypeScript test suite compares against onnxruntime-node.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time

import numpy as np
import onnx
import torch
from onnx import utils as onnx_utils
from torch import nn

from . import stages
from .config import Config
from .flops import count as count_flops
from .instructions import DEFAULT_MINILM_DIR
from .minilm.model_dir import sha256_file
from .models.edit_head import EditHeadExport
from .models.region_head import RegionHeadExport
from .models.vae import VAEDecode, VAEEncode

OPSET = 14
FORMAT = "mgie-model-1"
# Weight tensors at least this large are stored as float16 in the ONNX files (half the size on disk)
# and cast to float32 when the session loads; computation stays float32.
FP16_MIN_ELEMENTS = 1024


def round_weights_fp16(*modules: nn.Module) -> None:
    """Rounds the large weights to float16 precision, in place, so that PyTorch computes with
    exactly the weights the ONNX files store (parity is then exact up to float32 arithmetic)."""
    with torch.no_grad():
        for m in modules:
            for t in list(m.parameters()) + list(m.buffers()):
                if t.dtype == torch.float32 and t.numel() >= FP16_MIN_ELEMENTS:
                    t.copy_(t.half().float())


def store_fp16(path: str) -> None:
    """Rewrites an ONNX file so its large float32 initializers are float16 followed by a Cast."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(path)
    g = model.graph
    casts = []
    for init in g.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        arr = numpy_helper.to_array(init)
        if arr.size < FP16_MIN_ELEMENTS:
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(arr.astype(np.float16), name + "__fp16"))
        casts.append(helper.make_node("Cast", [name + "__fp16"], [name], to=TensorProto.FLOAT, name=name + "__cast"))
    for node in reversed(casts):
        g.node.insert(0, node)
    onnx.checker.check_model(model)
    onnx.save(model, path)


class Prefix(nn.Module):
    def __init__(self, mllm):
        super().__init__()
        self.mllm = mllm

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.mllm.prefix(image, image.shape[0])


class Embed(nn.Module):
    def __init__(self, mllm):
        super().__init__()
        self.embed = mllm.embed

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embed(ids)


class LM(nn.Module):
    def __init__(self, mllm):
        super().__init__()
        self.mllm = mllm

    def forward(self, embeds, past_k, past_v):
        return self.mllm.forward_cached(embeds, past_k, past_v)


def component_entry(out: str, name: str, inputs: list[str], outputs: list[str]) -> dict:
    """The manifest's entry for <name>.onnx written in the model directory `out`."""
    path = os.path.join(out, f"{name}.onnx")
    return {
        "file": f"{name}.onnx",
        "bytes": os.path.getsize(path),
        "sha256": sha256_file(path),
        "inputs": inputs,
        "outputs": outputs,
    }


# The node OrientationMix's softmax becomes in the exported UNet (module path "orientation").
ORIENTATION_SOFTMAX = "/orientation/Softmax"


def extract_orientation_head(unet_path: str, out_path: str) -> bool:
    """Writes the subgraph of `unet_path` from `context` to the orientation softmax to `out_path`, its output
    named "orientation" [batch, 8]; False when the UNet has no orientation mix."""
    unet = onnx.load(unet_path)
    softmax = [n for n in unet.graph.node if n.op_type == "Softmax" and n.name == ORIENTATION_SOFTMAX]
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


def _export(module: nn.Module, args: tuple, path: str, inputs: list[str], outputs: list[str], dynamic: dict) -> None:
    module.eval()
    with torch.no_grad():
        torch.onnx.export(
            module,
            args,
            path,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=dynamic,
            opset_version=OPSET,
            do_constant_folding=True,
        )


def _pipeline_fixture(
    cfg: Config, run_dir: str, variant: str, pdir: str, g: torch.Generator, expressive: list[str] | None
) -> None:
    """A whole edit by the reference pipeline with fixed noise, for both samplers: the TypeScript
    pipeline must reach the same final latent, pixels and expressive instruction. The guidance scales
    are not the defaults (1 / 1, a single UNet pass) so that all three guidance terms are compared."""
    from .diffusion import decode_edit, sample_ddim, sample_euler_ancestral
    from .pipeline import ReferenceEditor

    ed = ReferenceEditor(cfg, run_dir, variant, expressive)
    round_weights_fp16(ed.vae, *ed.models.values(), *([ed.region] if ed.region is not None else []))
    res, steps, cfg_text, cfg_image = cfg.res, 4, 3.0, 1.5
    pixels = torch.randint(0, 256, (res, res, 3), generator=g, dtype=torch.uint8)
    image = (pixels.float() / 127.5 - 1.0).permute(2, 0, 1).unsqueeze(0)
    instruction = "make the red circle blue"
    with torch.no_grad():
        u, null, texts = ed.condition(image, [instruction])
        z_img = ed.vae.encoder(image)[0] * ed.scale
        noise = torch.randn(z_img.shape, generator=g)
        step_noise = [torch.randn(z_img.shape, generator=g) for _ in range(steps)]
        base_z, base_img = ed.base(u, z_img, image)
        unet = ed.models["unet"]
        ddim = sample_ddim(unet, ed.sched, z_img, u, null, steps, cfg_text, cfg_image, noise, base_z)
        euler = sample_euler_ancestral(unet, ed.sched, z_img, u, null, steps, cfg_text, cfg_image, noise, step_noise, base_z)
        region = None if ed.region is None else ed.region(u)
        d = cfg.inference
        euler_pixels = decode_edit(
            VAEDecode(ed.vae, ed.scale),
            euler,
            base_z,
            base_img,
            d.residual_decode,
            d.change_threshold,
            region,
            d.region_threshold,
        )
    np.save(os.path.join(pdir, "pipeline.pixels.npy"), pixels.numpy())
    np.save(os.path.join(pdir, "pipeline.noise.npy"), noise.numpy())
    np.save(os.path.join(pdir, "pipeline.step_noise.npy"), torch.stack(step_noise).numpy())
    np.save(os.path.join(pdir, "pipeline.ddim.latent.npy"), ddim.numpy())
    np.save(os.path.join(pdir, "pipeline.euler-ancestral.latent.npy"), euler.numpy())
    np.save(os.path.join(pdir, "pipeline.euler-ancestral.image.npy"), euler_pixels.numpy())
    with open(os.path.join(pdir, "pipeline.json"), "w") as f:
        json.dump(
            {"instruction": instruction, "expressive": texts[0], "steps": steps, "cfg_text": cfg_text, "cfg_image": cfg_image}, f
        )


class _Export:
    """One model directory being written: the trained modules, the example inputs every component is
    traced with (drawn from one seeded generator, always in the same order, so that the same weights give
    the same files), and what the manifest and the parity index collect."""

    def __init__(self, cfg: Config, run_dir: str, variant: str, out: str, parity: bool):
        self.cfg, self.run_dir, self.variant, self.out, self.parity = cfg, run_dir, variant, out, parity
        self.vae, self.scale = stages.load_vae(cfg, run_dir)
        self.models, self.tok = stages.load_editor(cfg, run_dir, variant)
        round_weights_fp16(self.vae, *self.models.values())
        self.pdir = os.path.join(out, "parity")
        self.files: dict[str, dict] = {}
        self.cases: list[dict] = []
        # FLOPs of one call at batch 1 (the lm entry: one decoded token after a typical prompt).
        self.flops: dict[str, int] = {}
        self.expressive: dict | None = None
        self.g = torch.Generator().manual_seed(1234)
        # Inputs shared by several components: an image batch (VAE encoder, prefix), a latent batch (VAE decoder).
        self.img = torch.rand(2, 3, cfg.res, cfg.res, generator=self.g) * 2 - 1
        self.lat = self.randn(2, cfg.vae.latent_channels, cfg.latent_res, cfg.latent_res)
        # The condition U: L rows of width ctx.
        self.L = self.models["edit_head"].length if "edit_head" in self.models else cfg.edit_head.queries
        self.ctx = cfg.edit_head.context_dim

    def randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self.g)

    def parity_case(self, case: str, name: str, module: nn.Module, args: tuple, inputs: list[str], outputs: list[str]) -> None:
        """Saves inputs and PyTorch's outputs of one call of component `name` as .npy files."""
        with torch.no_grad():
            res_t = module(*args)
        res_t = res_t if isinstance(res_t, tuple) else (res_t,)
        entry = {"case": case, "component": name, "inputs": {}, "outputs": {}}
        for kind, names, arrays in (("inputs", inputs, args), ("outputs", outputs, res_t)):
            for n, a in zip(names, arrays):
                f = f"{case}.{kind}.{n}.npy"
                np.save(os.path.join(self.pdir, f), a.numpy())
                entry[kind][n] = f
        self.cases.append(entry)

    def component(self, name: str, module: nn.Module, args: tuple, inputs: list[str], outputs: list[str], dynamic: dict) -> None:
        """Writes <name>.onnx (large weights as float16), lists it for the manifest, and its parity case."""
        path = os.path.join(self.out, f"{name}.onnx")
        _export(module, args, path, inputs, outputs, dynamic)
        store_fp16(path)
        self.files[name] = component_entry(self.out, name, inputs, outputs)
        if self.parity:
            self.parity_case(name, name, module, args, inputs, outputs)


def _batch(*names: str) -> dict:
    return {n: {0: "batch"} for n in names}


def _vae_encoder(x: _Export) -> None:
    m = VAEEncode(x.vae, x.scale)
    x.component("vae_encoder", m, (x.img,), ["image"], ["latent"], _batch("image", "latent"))
    x.flops["vae_encoder"] = count_flops(m, x.img[:1])


def _vae_decoder(x: _Export) -> None:
    m = VAEDecode(x.vae, x.scale)
    x.component("vae_decoder", m, (x.lat,), ["latent"], ["image"], _batch("latent", "image"))
    x.flops["vae_decoder"] = count_flops(m, x.lat[:1])


def _unet(x: _Export) -> None:
    lc, lres = x.cfg.vae.latent_channels, x.cfg.latent_res
    args = (x.randn(3, 2 * lc, lres, lres), torch.tensor([999.0, 500.5, 3.0]), x.randn(3, x.L, x.ctx))
    m = x.models["unet"]
    x.component("unet", m, args, ["latent", "timestep", "context"], ["noise"], _batch("latent", "timestep", "context", "noise"))
    x.flops["unet"] = count_flops(m, *(a[:1] for a in args))


def _text_encoder(x: _Export) -> None:
    states = x.randn(2, 9, x.cfg.mllm.instruction_dim)
    mask = torch.tensor([[True] * 9, [True] * 6 + [False] * 3])
    m = x.models["text_encoder"]
    x.component(
        "text_encoder",
        m,
        (states, mask),
        ["states", "mask"],
        ["context"],
        {"states": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"}, "context": {0: "batch"}},
    )
    x.flops["text_encoder"] = count_flops(m, states[:1], mask[:1])


def _instruction(x: _Export) -> None:
    states = x.randn(2, 9, x.cfg.mllm.instruction_dim)
    x.component(
        "instruction",
        x.models["instruction_proj"],
        (states,),
        ["states"],
        ["embeds"],
        {"states": {0: "batch", 1: "tokens"}, "embeds": {0: "batch", 1: "tokens"}},
    )


def _prefix(x: _Export) -> None:
    m = Prefix(x.models["mllm"])
    x.component("prefix", m, (x.img,), ["image"], ["embeds"], _batch("image", "embeds"))
    x.flops["prefix"] = count_flops(m, x.img[:1])


def _embed(x: _Export) -> None:
    ids = torch.tensor([[x.tok.bos, 5, 6], [7, 8, x.tok.sep]])
    x.component(
        "embed",
        Embed(x.models["mllm"]),
        (ids,),
        ["ids"],
        ["embeds"],
        {"ids": {0: "batch", 1: "tokens"}, "embeds": {0: "batch", 1: "tokens"}},
    )


def _lm(x: _Export) -> None:
    mllm, mc = x.models["mllm"], x.cfg.mllm
    hd = mc.dim // mc.heads
    past = (x.randn(mc.layers, 2, mc.heads, 5, hd), x.randn(mc.layers, 2, mc.heads, 5, hd))
    kv_axes = {0: "layers", 1: "batch", 3: "past"}
    io = (["embeds", "past_k", "past_v"], ["logits", "hidden", "present_k", "present_v"])
    x.component(
        "lm",
        LM(mllm),
        (x.randn(2, 3, mc.dim), *past),
        *io,
        {
            "embeds": {0: "batch", 1: "tokens"},
            "past_k": kv_axes,
            "past_v": kv_axes,
            "logits": {0: "batch", 1: "tokens"},
            "hidden": {0: "batch", 1: "tokens"},
            "present_k": {1: "batch", 3: "total"},
            "present_v": {1: "batch", 3: "total"},
        },
    )
    if x.parity:
        # The two ways the runtime calls the LM: a prefill with an empty cache, and one new token.
        x.parity_case("lm_prefill", "lm", LM(mllm), (x.randn(1, 7, mc.dim), *mllm.empty_cache(1)), *io)
        one = (x.randn(mc.layers, 1, mc.heads, 7, hd), x.randn(mc.layers, 1, mc.heads, 7, hd))
        x.parity_case("lm_step", "lm", LM(mllm), (x.randn(1, 1, mc.dim), *one), *io)
    typical = mllm.num_prefix + 24  # prefix + a typical prompt: the cache one decoded token attends to
    cache = torch.zeros(mc.layers, 1, mc.heads, typical, hd)
    x.flops["lm"] = count_flops(LM(mllm), torch.randn(1, 1, mc.dim), cache, cache)


def _edit_head(x: _Export) -> None:
    mllm, mc = x.models["mllm"], x.cfg.mllm
    head = EditHeadExport(x.models["edit_head"], mllm.img_embeddings())
    cells = x.models["edit_head"].grid ** 2
    args = (x.randn(2, mc.num_img_tokens, mc.dim),) + ((x.randn(2, cells, mc.dim),) if cells else ())
    names = ["img_hidden", "cells"][: len(args)]
    x.component("edit_head", head, args, names, ["context"], _batch(*names, "context"))
    x.flops["edit_head"] = count_flops(head, *(a[:1] for a in args))


def _region_head(x: _Export) -> None:
    region = stages.load_region_head(x.cfg, x.run_dir, x.variant)
    round_weights_fp16(region)
    m = RegionHeadExport(region, x.cfg.res)
    u = x.randn(2, x.L, x.ctx)
    x.component("region_head", m, (u,), ["context"], ["region"], _batch("context", "region"))
    x.flops["region_head"] = count_flops(m, u[:1])


class _OrientationWeights(nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, context):
        return torch.softmax(self.unet.orientation_logits(context), dim=-1)


def _orientation_head(x: _Export) -> None:
    """orientation_head.onnx, cut out of unet.onnx (extract_orientation_head), for a UNet with the orientation mix.
    Its parity input comes from a generator of its own, so the other components' files stay as they were."""
    if not extract_orientation_head(os.path.join(x.out, "unet.onnx"), os.path.join(x.out, "orientation_head.onnx")):
        return
    x.files["orientation_head"] = component_entry(x.out, "orientation_head", ["context"], ["orientation"])
    if x.parity:
        u = torch.randn(2, x.L, x.ctx, generator=torch.Generator().manual_seed(4321))
        weights = _OrientationWeights(x.models["unet"])
        x.parity_case("orientation_head", "orientation_head", weights, (u,), ["context"], ["orientation"])


# Each component's export, in the order they are written (the order of their example inputs).
COMPONENTS = {
    "vae_encoder": _vae_encoder,
    "vae_decoder": _vae_decoder,
    "unet": _unet,
    "text_encoder": _text_encoder,
    "prefix": _prefix,
    "embed": _embed,
    "instruction": _instruction,
    "lm": _lm,
    "edit_head": _edit_head,
    "region_head": _region_head,
}


def components(variant: str, sees: bool, region: bool) -> list[str]:
    """The components a model directory of `variant` holds: InsPix2Pix its text encoder, the others the
    MLLM's parts (the prefix only when the MLLM `sees` the image) and the edit head, and the region head
    when a `region` stage has trained one."""
    if variant == "inspix2pix":
        own = ["text_encoder"]
    else:
        own = (["prefix"] if sees else []) + ["embed", "instruction", "lm", "edit_head"] + (["region_head"] if region else [])
    return [n for n in COMPONENTS if n in ("vae_encoder", "vae_decoder", "unet", *own)]


def _parity_extras(x: _Export) -> None:
    """The parity fixtures beyond single calls: a whole edit, the tokenizer, and the index of the cases."""
    expressive = None
    if x.expressive:
        with open(os.path.join(x.out, "expressive.json"), encoding="utf-8") as f:
            expressive = json.load(f)
    _pipeline_fixture(x.cfg, x.run_dir, x.variant, x.pdir, x.g, expressive)
    texts = [
        "make it brighter",
        "Remove the BIGGEST object!!",
        "  two  spaces\tand a tab ",
        "Ünïcødé wörds 🎨 日本語",
        "what will this image be like if fix the lighting",
        "",
        "recolour the odd one out to ultramarine-ish",
    ]
    with open(os.path.join(x.pdir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump([{"text": t, "ids": x.tok.encode(t), "prompt": x.tok.prompt_ids(t)} for t in texts], f, ensure_ascii=False)
    with open(os.path.join(x.pdir, "index.json"), "w") as f:
        json.dump(x.cases, f, indent=2)


def diffusion_block(cfg: Config, region_head: bool) -> dict:
    """The manifest's `diffusion`: the noise schedule and what the UNet predicts, then the config's
    InferenceDefaults as they are (a model without a region head: region_threshold 0)."""
    d = cfg.diffusion
    inference = cfg.inference if region_head else dataclasses.replace(cfg.inference, region_threshold=0.0)
    return {
        "train_steps": d.train_steps,
        "beta_schedule": "scaled_linear",
        "beta_start": d.beta_start,
        "beta_end": d.beta_end,
        "prediction": d.prediction,
        "residual": d.residual,
        "oriented_residual": d.oriented_residual and cfg.unet.orientations,
        "oriented_base": d.oriented_base,
        **dataclasses.asdict(inference),
    }


def _mllm_block(x: _Export) -> dict:
    mc = x.cfg.mllm
    return {
        "vision": x.variant != "lgie",
        "dim": mc.dim,
        "layers": mc.layers,
        "heads": mc.heads,
        "head_dim": mc.dim // mc.heads,
        "max_len": mc.max_len,
        "num_img_tokens": mc.num_img_tokens,
        "max_new_tokens": mc.max_new_tokens,
        "num_prefix": x.models["mllm"].num_prefix,
    }


def build_manifest(x: _Export, training: dict | None) -> dict:
    """manifest.json of the model directory `x` has written (validate_manifest checks it)."""
    cfg, variant = x.cfg, x.variant
    return {
        "format": FORMAT,
        "name": variant,
        "variant": variant,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "resolution": cfg.res,
        "latent": {"channels": cfg.vae.latent_channels, "resolution": cfg.latent_res, "scale": x.scale},
        "tokenizer": {"file": "tokenizer.json", "sha256": sha256_file(os.path.join(x.out, "tokenizer.json"))},
        "mllm": None if variant == "inspix2pix" else _mllm_block(x),
        "text_encoder": {"max_len": cfg.text_encoder.max_len} if variant == "inspix2pix" else None,
        "instruction_encoder": {
            "format": "mgie-minilm-1",
            # Where the shared encoder is, from the model directory: "../minilm" for the models shipped in models/.
            "path": os.path.relpath(DEFAULT_MINILM_DIR, x.out),
            "dim": cfg.mllm.instruction_dim,
            "max_tokens": cfg.mllm.instruction_tokens,
        },
        "expressive": x.expressive,
        "condition": {"length": x.L, "dim": x.ctx},
        "diffusion": diffusion_block(cfg, "region_head" in x.files),
        "components": x.files,
        "flops": x.flops,
        "training": training or {},
        "config": cfg.to_json(),
    }


# The JSON Schema of manifest.json, generated from the TypeScript runtime's ManifestSchema (src/models/modelDir.ts).
SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "schemas", "manifest.schema.json")


class ManifestError(ValueError):
    """A manifest the TypeScript runtime would refuse."""


def validate_manifest(manifest: dict, schema_path: str = SCHEMA) -> None:
    """Checks `manifest`, as JSON, against the manifest schema; a ManifestError names the first field that
    does not fit."""
    try:
        import jsonschema
    except ImportError as e:
        raise ManifestError("checking the manifest needs python3-jsonschema (scripts/setup-system.sh installs it)") from e
    try:
        with open(schema_path, encoding="utf-8") as f:
            schema = json.load(f)
    except (OSError, ValueError) as e:
        raise ManifestError(f"cannot read the manifest schema {schema_path}: {e}") from e
    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(json.loads(json.dumps(manifest))))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "(the top level)"
        raise ManifestError(f"the manifest does not fit {os.path.normpath(schema_path)} at {where}: {error.message}")


def trained_stages(run_dir: str) -> dict:
    """For the manifest's `training`: the steps and meta of each trained stage's checkpoint in `run_dir`."""
    trained = {}
    for name, path in stages.paths(run_dir).items():
        if path.endswith(".npz") and name != "latents" and os.path.isfile(path):
            header = json.loads(bytes(np.load(path, allow_pickle=False)["header"]).decode("utf-8"))
            trained[name] = {"steps": header["step"], **header.get("meta", {})}
    return trained


def copy_expressive(data_dir: str | None, out: str) -> dict | None:
    """Copies the dataset's expressive.json (every expressive instruction its generator gives) into the model
    directory, checked to be a list of strings; its manifest entry, or None without one."""
    src = os.path.join(data_dir, "expressive.json") if data_dir else None
    if src is None or not os.path.isfile(src):
        return None
    with open(src, encoding="utf-8") as f:
        texts = json.load(f)
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
        raise ManifestError(f"{src} is not a list of expressive instructions; generate the dataset again")
    shutil.copyfile(src, os.path.join(out, "expressive.json"))
    return {"file": "expressive.json", "sha256": sha256_file(os.path.join(out, "expressive.json")), "count": len(texts)}


def export(
    cfg: Config,
    run_dir: str,
    variant: str,
    out: str,
    parity: bool = False,
    training: dict | None = None,
    data_dir: str | None = None,
) -> dict:
    """Writes the model directory `out` for one trained editor; returns its manifest. `data_dir`: the training
    dataset, whose expressive.json the model keeps."""
    x = _Export(cfg, run_dir, variant, out, parity)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    if parity:
        os.makedirs(x.pdir)
    sees = "mllm" in x.models and x.models["mllm"].vision is not None
    region = variant in stages.SEEING and os.path.isfile(stages.paths(run_dir)[f"region-{variant}"])
    for name in components(variant, sees, region):
        COMPONENTS[name](x)
    _orientation_head(x)
    x.tok.save(os.path.join(out, "tokenizer.json"))
    x.expressive = copy_expressive(data_dir, out)
    if parity:
        _parity_extras(x)
    manifest = build_manifest(x, training)
    validate_manifest(manifest)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest
