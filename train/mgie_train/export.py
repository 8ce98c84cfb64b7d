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
  lm.onnx              embeddings [B,T,dim], past k/v [layers,B,heads,P,hd] -> logits, hidden, present k/v
  edit_head.onnx       [IMG] hidden states [B,N,dim] (+ MGIE: the prefix's image cells [B,P,dim]) -> U [B,L,d]
  region_head.onnx     U [B,L,d] -> the edit's region [B,1,H,W] (MGIE with a trained region head only)
  InsPix2Pix:
  text_encoder.onnx    token ids [B,T], mask [B,T] -> U [B,L,d]

With `parity=True` it also writes parity/*.npy: fixed inputs and PyTorch's outputs for each component,
which the TypeScript test suite compares against onnxruntime-node.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time

import numpy as np
import torch
from torch import nn

from . import stages
from .flops import count as count_flops
from .config import Config
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


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _export(module: nn.Module, args: tuple, path: str, inputs: list[str], outputs: list[str], dynamic: dict) -> None:
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
                          opset_version=OPSET, do_constant_folding=True)


def _pipeline_fixture(cfg: Config, run_dir: str, variant: str, pdir: str, g: torch.Generator) -> None:
    """A whole edit by the reference pipeline with fixed noise, for both samplers: the TypeScript
    pipeline must reach the same final latent, pixels and expressive instruction. The guidance scales
    are not the defaults (1 / 1, a single UNet pass) so that all three guidance terms are compared."""
    from .diffusion import decode_edit, sample_ddim, sample_euler_ancestral
    from .pipeline import ReferenceEditor

    ed = ReferenceEditor(cfg, run_dir, variant)
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
        ddim = sample_ddim(ed.models["unet"], ed.sched, z_img, u, null, steps, cfg_text, cfg_image, noise)
        euler = sample_euler_ancestral(ed.models["unet"], ed.sched, z_img, u, null, steps, cfg_text, cfg_image, noise, step_noise)
        region = None if ed.region is None else ed.region(u)
        euler_pixels = decode_edit(VAEDecode(ed.vae, ed.scale), euler, z_img, image, cfg.diffusion.residual_decode,
                                   cfg.diffusion.change_threshold, region, cfg.diffusion.region_threshold)
    np.save(os.path.join(pdir, "pipeline.pixels.npy"), pixels.numpy())
    np.save(os.path.join(pdir, "pipeline.noise.npy"), noise.numpy())
    np.save(os.path.join(pdir, "pipeline.step_noise.npy"), torch.stack(step_noise).numpy())
    np.save(os.path.join(pdir, "pipeline.ddim.latent.npy"), ddim.numpy())
    np.save(os.path.join(pdir, "pipeline.euler-ancestral.latent.npy"), euler.numpy())
    np.save(os.path.join(pdir, "pipeline.euler-ancestral.image.npy"), euler_pixels.numpy())
    with open(os.path.join(pdir, "pipeline.json"), "w") as f:
        json.dump({"instruction": instruction, "expressive": texts[0], "steps": steps, "cfg_text": cfg_text, "cfg_image": cfg_image}, f)


def export(cfg: Config, run_dir: str, variant: str, out: str, parity: bool = False, training: dict | None = None) -> dict:
    """Writes the model directory `out` for one trained editor; returns its manifest."""
    vae, scale = stages.load_vae(cfg, run_dir)
    models, tok = stages.load_editor(cfg, run_dir, variant)
    round_weights_fp16(vae, *models.values())
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    pdir = os.path.join(out, "parity")
    if parity:
        os.makedirs(pdir)
    g = torch.Generator().manual_seed(1234)
    res, lres, lc = cfg.res, cfg.latent_res, cfg.vae.latent_channels
    files: dict[str, dict] = {}
    cases: list[dict] = []
    # FLOPs of one call at batch 1 (the lm entry: one decoded token after a typical prompt).
    flops: dict[str, int] = {}

    def parity_case(case: str, name: str, module: nn.Module, args: tuple, inputs: list[str], outputs: list[str]) -> None:
        """Saves inputs and PyTorch's outputs of one call of component `name` as .npy files."""
        with torch.no_grad():
            res_t = module(*args)
        res_t = res_t if isinstance(res_t, tuple) else (res_t,)
        entry = {"case": case, "component": name, "inputs": {}, "outputs": {}}
        for kind, names, arrays in (("inputs", inputs, args), ("outputs", outputs, res_t)):
            for n, a in zip(names, arrays):
                f = f"{case}.{kind}.{n}.npy"
                np.save(os.path.join(pdir, f), a.numpy())
                entry[kind][n] = f
        cases.append(entry)

    def component(name: str, module: nn.Module, args: tuple, inputs: list[str], outputs: list[str], dynamic: dict) -> None:
        path = os.path.join(out, f"{name}.onnx")
        _export(module, args, path, inputs, outputs, dynamic)
        store_fp16(path)
        files[name] = {"file": f"{name}.onnx", "bytes": os.path.getsize(path), "sha256": _sha256(path),
                       "inputs": inputs, "outputs": outputs}
        if parity:
            parity_case(name, name, module, args, inputs, outputs)

    img = torch.rand(2, 3, res, res, generator=g) * 2 - 1
    lat = torch.randn(2, lc, lres, lres, generator=g)
    component("vae_encoder", VAEEncode(vae, scale), (img,), ["image"], ["latent"], {"image": {0: "batch"}, "latent": {0: "batch"}})
    component("vae_decoder", VAEDecode(vae, scale), (lat,), ["latent"], ["image"], {"latent": {0: "batch"}, "image": {0: "batch"}})
    L = models["edit_head"].length if "edit_head" in models else cfg.edit_head.queries
    ctx = cfg.edit_head.context_dim
    unet_in = (torch.randn(3, 2 * lc, lres, lres, generator=g), torch.tensor([999.0, 500.5, 3.0]), torch.randn(3, L, ctx, generator=g))
    component("unet", models["unet"], unet_in, ["latent", "timestep", "context"], ["noise"],
              {"latent": {0: "batch"}, "timestep": {0: "batch"}, "context": {0: "batch"}, "noise": {0: "batch"}})
    flops["vae_encoder"] = count_flops(VAEEncode(vae, scale), img[:1])
    flops["vae_decoder"] = count_flops(VAEDecode(vae, scale), lat[:1])
    flops["unet"] = count_flops(models["unet"], *(a[:1] for a in unet_in))

    if variant == "inspix2pix":
        ids, mask = stages.text_ids(tok, ["make it brighter", "remove the red circle please"], cfg.text_encoder.max_len)
        component("text_encoder", models["text_encoder"], (ids, mask), ["ids", "mask"], ["context"],
                  {"ids": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"}, "context": {0: "batch"}})
        flops["text_encoder"] = count_flops(models["text_encoder"], ids[:1], mask[:1])
    else:
        mllm = models["mllm"]
        mc = cfg.mllm
        if mllm.vision is not None:
            component("prefix", Prefix(mllm), (img,), ["image"], ["embeds"], {"image": {0: "batch"}, "embeds": {0: "batch"}})
        component("embed", Embed(mllm), (torch.tensor([[tok.bos, 5, 6], [7, 8, tok.sep]]),), ["ids"], ["embeds"],
                  {"ids": {0: "batch", 1: "tokens"}, "embeds": {0: "batch", 1: "tokens"}})
        hd = mc.dim // mc.heads
        past = (torch.randn(mc.layers, 2, mc.heads, 5, hd, generator=g), torch.randn(mc.layers, 2, mc.heads, 5, hd, generator=g))
        kv_axes = {0: "layers", 1: "batch", 3: "past"}
        lm_io = (["embeds", "past_k", "past_v"], ["logits", "hidden", "present_k", "present_v"])
        component("lm", LM(mllm), (torch.randn(2, 3, mc.dim, generator=g), *past), *lm_io,
                  {"embeds": {0: "batch", 1: "tokens"}, "past_k": kv_axes, "past_v": kv_axes,
                   "logits": {0: "batch", 1: "tokens"}, "hidden": {0: "batch", 1: "tokens"},
                   "present_k": {1: "batch", 3: "total"}, "present_v": {1: "batch", 3: "total"}})
        if parity:
            # The two ways the runtime calls the LM: a prefill with an empty cache, and one new token.
            empty = mllm.empty_cache(1)
            parity_case("lm_prefill", "lm", LM(mllm), (torch.randn(1, 7, mc.dim, generator=g), *empty), *lm_io)
            one = (torch.randn(mc.layers, 1, mc.heads, 7, hd, generator=g), torch.randn(mc.layers, 1, mc.heads, 7, hd, generator=g))
            parity_case("lm_step", "lm", LM(mllm), (torch.randn(1, 1, mc.dim, generator=g), *one), *lm_io)
        head = EditHeadExport(models["edit_head"], mllm.img_embeddings())
        cells = models["edit_head"].grid ** 2
        head_in = (torch.randn(2, mc.num_img_tokens, mc.dim, generator=g),) + ((torch.randn(2, cells, mc.dim, generator=g),) if cells else ())
        head_names = ["img_hidden", "cells"][: len(head_in)]
        component("edit_head", head, head_in, head_names, ["context"], {**{k: {0: "batch"} for k in head_names}, "context": {0: "batch"}})
        region = stages.load_region_head(cfg, run_dir, variant) if variant in stages.SEEING else None
        if region is not None:
            round_weights_fp16(region)
            region_export = RegionHeadExport(region, res)
            u_in = (torch.randn(2, L, ctx, generator=g),)
            component("region_head", region_export, u_in, ["context"], ["region"], {"context": {0: "batch"}, "region": {0: "batch"}})
            flops["region_head"] = count_flops(region_export, u_in[0][:1])
        if mllm.vision is not None:
            flops["prefix"] = count_flops(Prefix(mllm), img[:1])
        typical = mllm.num_prefix + 24  # prefix + a typical prompt: the cache one decoded token attends to
        flops["lm"] = count_flops(LM(mllm), torch.randn(1, 1, mc.dim), torch.zeros(mc.layers, 1, mc.heads, typical, hd), torch.zeros(mc.layers, 1, mc.heads, typical, hd))
        flops["edit_head"] = count_flops(head, *(a[:1] for a in head_in))

    tok.save(os.path.join(out, "tokenizer.json"))
    if parity:
        _pipeline_fixture(cfg, run_dir, variant, pdir, g)
        texts = ["make it brighter", "Remove the BIGGEST object!!", "  two  spaces\tand a tab ", "Ünïcødé wörds 🎨 日本語",
                 "what will this image be like if fix the lighting", "", "recolour the odd one out to ultramarine-ish"]
        with open(os.path.join(pdir, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump([{"text": t, "ids": tok.encode(t), "prompt": tok.prompt_ids(t)} for t in texts], f, ensure_ascii=False)
        with open(os.path.join(pdir, "index.json"), "w") as f:
            json.dump(cases, f, indent=2)
    d = cfg.diffusion
    manifest = {
        "format": FORMAT,
        "name": variant,
        "variant": variant,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "resolution": res,
        "latent": {"channels": lc, "resolution": lres, "scale": scale},
        "tokenizer": {"file": "tokenizer.json", "sha256": _sha256(os.path.join(out, "tokenizer.json"))},
        "mllm": None if variant == "inspix2pix" else {
            "vision": variant != "lgie", "dim": cfg.mllm.dim, "layers": cfg.mllm.layers, "heads": cfg.mllm.heads,
            "head_dim": cfg.mllm.dim // cfg.mllm.heads, "max_len": cfg.mllm.max_len, "num_img_tokens": cfg.mllm.num_img_tokens,
            "max_new_tokens": cfg.mllm.max_new_tokens, "num_prefix": models["mllm"].num_prefix,
        },
        "text_encoder": {"max_len": cfg.text_encoder.max_len} if variant == "inspix2pix" else None,
        "condition": {"length": L, "dim": ctx},
        "diffusion": {"train_steps": d.train_steps, "beta_schedule": "scaled_linear", "beta_start": d.beta_start, "beta_end": d.beta_end,
                      "prediction": d.prediction, "residual": d.residual, "residual_decode": d.residual_decode,
                      "change_threshold": d.change_threshold, "region_threshold": d.region_threshold if "region_head" in files else 0.0,
                      "steps": d.sample_steps,
                      "cfg_text": d.cfg_text, "cfg_image": d.cfg_image},
        "components": files,
        "flops": flops,
        "training": training or {},
        "config": cfg.to_json(),
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest
