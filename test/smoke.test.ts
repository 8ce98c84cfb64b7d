import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as ort from "onnxruntime-node";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../src/core/rng.js";
import { writeDataset } from "../src/data/dataset.js";
import { type NpyArray, npyValues, parseNpyArray } from "../src/data/npy.js";
import { singleThreadSource } from "../src/data/pool.js";
import { SynthEdit } from "../src/data/synthedit.js";
import { ImageInputError, InvalidArgumentError } from "../src/errors.js";
import { createImage, fromUint8 } from "../src/image/raster.js";
import { MiniLM } from "../src/models/minilm.js";
import { Mllm } from "../src/models/mllm.js";
import { ModelDirError } from "../src/models/modelDir.js";
import { EDIT_STAGES, type EditProgress, MgieEditor } from "../src/pipeline/editor.js";
import { loadModelDir } from "../src/platform/nodeFiles.js";
import { nodeOnnx } from "../src/platform/onnxNode.js";

/**
 * The training smoke run CI needs, end to end on a tiny config: SynthEdit data (TypeScript) ->
 * every training stage a few steps (PyTorch) -> ONNX export with parity fixtures -> each component
 * run through onnxruntime-node must match PyTorch's outputs within 1e-4 relative error.
 */
const PYTHON = process.env.MGIE_PYTHON ?? "/usr/bin/python3";
const TRAIN_DIR = fileURLToPath(new URL("../train", import.meta.url));
const exec = promisify(execFile);
const VARIANTS = ["mgie-e2e", "lgie", "inspix2pix"] as const;
let dir: string;

async function python(...args: string[]): Promise<string> {
  const { stdout } = await exec(PYTHON, ["-m", "mgie_train", ...args], { cwd: TRAIN_DIR, timeout: 300_000, maxBuffer: 64 << 20 });
  return stdout;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mgie-smoke-"));
  const gen = await SynthEdit.create({ res: 32 });
  await writeDataset(singleThreadSource(gen), join(dir, "data"), { split: "train", count: 48, shardSize: 32 });
  const common = ["--config", "tiny", "--data", join(dir, "data"), "--run", join(dir, "run"), "--batch", "4", "--threads", "1"];
  await python("all", ...common, "--test-data", join(dir, "data"), "--steps", "3");
  for (const v of VARIANTS) await python("export", ...common, "--variant", v, "--out", join(dir, v), "--parity");
}, 600_000);

function tensor(a: NpyArray): ort.Tensor {
  const values = npyValues(a);
  const type = a.dtype === "float32" ? "float32" : a.dtype === "int64" ? "int64" : "bool";
  return new ort.Tensor(type, type === "bool" ? Array.from(values as Uint8Array, (v) => v !== 0) : values, a.shape);
}

async function npy(path: string): Promise<NpyArray> {
  return parseNpyArray(await readFile(path), path);
}

describe.each(VARIANTS)("ONNX export of %s", (variant) => {
  it("matches PyTorch in onnxruntime-node within 1e-4 relative error, component by component", async () => {
    const root = join(dir, variant);
    const cases = JSON.parse(await readFile(join(root, "parity", "index.json"), "utf8")) as {
      case: string;
      component: string;
      inputs: Record<string, string>;
      outputs: Record<string, string>;
    }[];
    const seen = new Set<string>();
    for (const c of cases) {
      const session = await ort.InferenceSession.create(join(root, `${c.component}.onnx`), { intraOpNumThreads: 1 });
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, file] of Object.entries(c.inputs)) feeds[name] = tensor(await npy(join(root, "parity", file)));
      const results = await session.run(feeds);
      for (const [name, file] of Object.entries(c.outputs)) {
        const want = npyValues(await npy(join(root, "parity", file))) as Float32Array;
        const got = results[name].data as Float32Array;
        expect(got.length, `${c.case}.${name} size`).toBe(want.length);
        let maxDiff = 0;
        let maxRef = 0;
        for (let i = 0; i < want.length; i++) {
          maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
          maxRef = Math.max(maxRef, Math.abs(want[i]));
        }
        expect(maxDiff / Math.max(maxRef, 1e-6), `${c.case}.${name}`).toBeLessThan(1e-4);
      }
      seen.add(c.case);
      await session.release();
    }
    const expected =
      variant === "inspix2pix"
        ? ["vae_encoder", "vae_decoder", "unet", "text_encoder", "orientation_head"]
        : ["vae_encoder", "vae_decoder", "unet", "embed", "instruction", "lm", "lm_prefill", "lm_step", "edit_head", "orientation_head"];
    if (variant === "mgie-e2e") expected.push("prefix", "region_head");
    expect([...seen].sort()).toEqual(expected.sort());
  });

  it("tokenizes exactly as the training side does", async () => {
    const md = await loadModelDir(join(dir, variant));
    const cases = JSON.parse(await readFile(join(dir, variant, "parity", "tokenizer.json"), "utf8")) as { text: string; ids: number[]; prompt: number[] }[];
    for (const c of cases) {
      expect(md.tokenizer.encode(c.text), c.text).toEqual(c.ids);
      expect(md.tokenizer.promptIds(c.text)).toEqual(c.prompt);
      expect(md.tokenizer.decode(c.ids)).toBe(c.text);
    }
  });

  it("writes a manifest whose hashes match the files", async () => {
    const root = join(dir, variant);
    const manifest = JSON.parse(await readFile(join(root, "manifest.json"), "utf8"));
    expect(manifest.format).toBe("mgie-model-1");
    expect(manifest.variant).toBe(variant);
    for (const c of Object.values(manifest.components) as { file: string; sha256: string; bytes: number }[]) {
      const bytes = await readFile(join(root, c.file));
      expect(bytes.length).toBe(c.bytes);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(c.sha256);
    }
  });
});

describe.each(VARIANTS)("TypeScript pipeline of %s against the PyTorch reference", (variant) => {
  it.each(["ddim", "euler-ancestral"] as const)("reaches the same final latent with %s and the same expressive instruction", async (scheduler) => {
    const p = join(dir, variant, "parity");
    const fixture = JSON.parse(await readFile(join(p, "pipeline.json"), "utf8")) as {
      instruction: string;
      expressive: string;
      steps: number;
      cfg_text: number;
      cfg_image: number;
    };
    const pixels = npyValues(await npy(join(p, "pipeline.pixels.npy"))) as Uint8Array;
    const noise = npyValues(await npy(join(p, "pipeline.noise.npy"))) as Float32Array;
    const stepNoise = npyValues(await npy(join(p, "pipeline.step_noise.npy"))) as Float32Array;
    const want = npyValues(await npy(join(p, `pipeline.${scheduler}.latent.npy`))) as Float32Array;
    const editor = await MgieEditor.load(join(dir, variant), { threads: 1 });
    const res = editor.manifest.resolution;
    const per = noise.length;
    const steps = Array.from({ length: fixture.steps }, (_, i) => stepNoise.slice(i * per, (i + 1) * per));
    const [r] = await editor.editBatch(
      [{ image: fromUint8(res, res, pixels), instruction: fixture.instruction }],
      { steps: fixture.steps, scheduler, cfgText: fixture.cfg_text, cfgImage: fixture.cfg_image },
      { initial: noise, steps },
    );
    expect(r.expressiveInstruction).toBe(fixture.expressive);
    let maxDiff = 0;
    let maxRef = 0;
    for (let i = 0; i < want.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(r.latent[i] - want[i]));
      maxRef = Math.max(maxRef, Math.abs(want[i]));
    }
    expect(maxDiff / maxRef).toBeLessThan(1e-3);
    if (scheduler === "euler-ancestral") {
      // The decoded pixels (the change decoded onto the input) agree to within one 8-bit level, plus the
      // half level that rounding the output image to 8 bits may add.
      const image = npyValues(await npy(join(p, "pipeline.euler-ancestral.image.npy"))) as Float32Array;
      const plane = res * res;
      let worst = 0;
      for (let ch = 0; ch < 3; ch++) {
        for (let q = 0; q < plane; q++) worst = Math.max(worst, Math.abs(r.modelImage.data[q * 3 + ch] - (image[ch * plane + q] + 1) / 2));
      }
      expect(worst).toBeLessThan(1.5 / 255);
    }
  });
});

describe("mgie edit (the CLI)", () => {
  const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
  const mgie = async (...args: string[]) => {
    try {
      const r = await exec(process.execPath, [CLI, ...args], { timeout: 120_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };

  it("edits one image, a folder and a JSONL batch", async () => {
    const model = join(dir, "mgie-e2e");
    const photos = join(dir, "photos");
    await cp(fileURLToPath(new URL("../assets/photos/darknet", import.meta.url)), photos, { recursive: true });
    const one = await mgie("edit", join(photos, "dog.jpg"), "make it brighter", "--model", model, "--steps", "2", "-o", join(dir, "dog.png"), "--json");
    expect(one.code, one.stderr).toBe(0);
    const r = JSON.parse(one.stdout.trim());
    expect(r.output).toBe(join(dir, "dog.png"));
    expect(typeof r.expressiveInstruction).toBe("string");
    // The photo's own size (dog.jpg is 341x256), not the model's square.
    const meta = await sharp(join(dir, "dog.png")).metadata();
    expect([meta.width, meta.height, r.width, r.height]).toEqual([341, 256, 341, 256]);
    const small = await mgie(
      "edit",
      join(photos, "dog.jpg"),
      "make it brighter",
      "--model",
      model,
      "--steps",
      "1",
      "-o",
      join(dir, "dog-model.jpg"),
      "--model-resolution",
      "--quality",
      "80",
    );
    expect(small.code, small.stderr).toBe(0);
    expect((await sharp(join(dir, "dog-model.jpg")).metadata()).width).toBe(32);
    const folder = await mgie("edit", photos, "add a blue tint", "--model", model, "--steps", "1", "-o", join(dir, "edited"), "--batch-size", "4");
    expect(folder.code, folder.stderr).toBe(0);
    expect(folder.stdout).toMatch(/edited 6 images/);
    await writeFile(join(dir, "jobs.jsonl"), `${JSON.stringify({ image: "photos/dog.jpg", instruction: "flip it", output: "out/flipped.webp" })}\n`);
    const jsonl = await mgie("edit", join(dir, "jobs.jsonl"), "--model", model, "--steps", "1");
    expect(jsonl.code, jsonl.stderr).toBe(0);
    expect((await sharp(join(dir, "out", "flipped.webp")).metadata()).format).toBe("webp");
  });

  it("leaves the photo alone and says so for a request the model cannot do (exit status 5)", async () => {
    const out = join(dir, "refused.png");
    const r = await mgie(
      "edit",
      join(dir, "photos", "dog.jpg"),
      "make the bicycle blue",
      "--model",
      join(dir, "mgie-e2e"),
      "--expressive",
      "unsupported request",
      "-o",
      out,
    );
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/not done: this is not an edit mgie can make/);
    expect(r.stderr).toMatch(/mgie can edit: brightness/);
    await expect(stat(out)).rejects.toThrow();
  });

  it("explains bad input without a stack trace", async () => {
    const model = join(dir, "mgie-e2e");
    const cases: [string[], RegExp][] = [
      [["edit", join(dir, "nope.jpg"), "x", "--model", model], /no such file or folder/],
      [["edit", join(dir, "jobs.jsonl"), "--model", join(dir, "nowhere")], /not an mgie model directory/],
      [["edit", join(dir, "photos", "dog.jpg"), "  ", "--model", model], /instruction is empty/],
      [["edit", join(dir, "photos", "dog.jpg"), "x", "--model", model, "--steps", "0"], /steps/],
      [["edit", join(dir, "photos", "dog.jpg"), "x", "--model", model, "--cfg-text", "abc"], /--cfg-text must be a number/],
      [["edit", join(dir, "photos", "dog.jpg"), "x", "--model", model, "-o", join(dir, "out.gif")], /use a .png, .jpg or .webp/],
    ];
    for (const [args, message] of cases) {
      const r = await mgie(...args);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe("MgieEditor", () => {
  let editor: MgieEditor;
  const image = createImage(40, 30, [0.2, 0.5, 0.7]);
  beforeAll(async () => {
    editor = await MgieEditor.load(join(dir, "mgie-e2e"), { threads: 1 });
  });

  it("edits any size of image at that size, with the model's result at its resolution beside it, reporting stages and steps", async () => {
    const seen: EditProgress[] = [];
    const r = await editor.edit(image, "make it brighter", { steps: 3, onProgress: (p) => seen.push(p) });
    expect([r.image.width, r.image.height]).toEqual([40, 30]);
    expect([r.modelImage.width, r.modelImage.height]).toEqual([editor.manifest.resolution, editor.manifest.resolution]);
    expect(seen.filter((p) => p.stage === "diffusion" && p.step).map((p) => p.step)).toEqual([1, 2, 3]);
    for (const k of [...EDIT_STAGES, "total"]) expect(r.timings[k]).toBeGreaterThanOrEqual(0);
    const modelOnly = await editor.edit(image, "make it brighter", { steps: 3, fullSize: false });
    expect(modelOnly.image).toEqual(r.modelImage);
  });

  it("is reproducible with a seed and batches several edits", async () => {
    const a = await editor.edit(image, "make it brighter", { steps: 2, seed: 7 });
    const b = await editor.edit(image, "make it brighter", { steps: 2, seed: 7 });
    expect(Buffer.from(a.latent.buffer).equals(Buffer.from(b.latent.buffer))).toBe(true);
    const batch = await editor.editBatch(
      [
        { image, instruction: "make it brighter" },
        { image, instruction: "add a blue tint" },
      ],
      { steps: 2 },
    );
    expect(batch).toHaveLength(2);
    const given = await editor.edit(image, "fix it", { steps: 2, expressive: "brighten the underexposed photo" });
    expect(given.expressiveInstruction).toBe("brighten the underexposed photo");
    expect(given.unsupported).toBeNull();
    // A refusal: the photo comes back as it was, with the reason, and nothing is sampled.
    const refused = await editor.edit(image, "make the green star red", { steps: 2, expressive: "unsupported: there is no green star" });
    expect(refused.unsupported).toBe("there is no green star in the image");
    expect(Array.from(refused.image.data)).toEqual(Array.from(image.data));
    expect(refused.timings.diffusion).toBeUndefined();
  });

  it("decodes the same tokens with and without the KV cache", async () => {
    const md = await loadModelDir(join(dir, "mgie-e2e"));
    const onnx = nodeOnnx(1);
    const s = async (n: string) => onnx.createSession(md.files[n], n);
    const encoder = await MiniLM.open(md.instructionEncoder!, onnx);
    const instruction = { encoder, projection: await s("instruction"), maxTokens: md.manifest.instruction_encoder!.max_tokens };
    const mllm = new Mllm(md.manifest.mllm!, md.tokenizer, { prefix: await s("prefix"), embed: await s("embed"), lm: await s("lm") }, instruction);
    const res = md.manifest.resolution;
    const px = new Rng(3).gaussians(3 * res * res).map((v) => Math.tanh(v));
    const opts = { temperature: 0, topP: 1, rng: new Rng(0) };
    const cached = await mllm.imagine(px, res, "remove the biggest object", opts, true);
    const plain = await mllm.imagine(px, res, "remove the biggest object", opts, false);
    expect(cached.ids).toEqual(plain.ids);
    for (let i = 0; i < plain.states.length; i++) expect(Math.abs(cached.states[i] - plain.states[i])).toBeLessThan(1e-4);
  });

  it("keeps the input outside the region head's region", async () => {
    // At threshold 1 no pixel reaches the region (probabilities are below 1): the input comes back.
    const res = editor.manifest.resolution;
    const px = new Rng(5).gaussians(3 * res * res).map((v) => Math.round(255 / (1 + Math.exp(-v))));
    const input = fromUint8(res, res, Uint8Array.from(px));
    expect(editor.hasRegionHead).toBe(true);
    const kept = await editor.edit(input, "make it brighter", { steps: 2, regionThreshold: 1, changeThreshold: 0 });
    expect(Array.from(kept.image.data)).toEqual(Array.from(input.data));
    const free = await editor.edit(input, "make it brighter", { steps: 2, regionThreshold: 0, changeThreshold: 0 });
    expect(Array.from(free.image.data)).not.toEqual(Array.from(input.data));
  });

  it("rejects bad input with a clear error", async () => {
    const bad = async (p: Promise<unknown>, type: abstract new (...args: never[]) => unknown, message: RegExp) => {
      await expect(p).rejects.toBeInstanceOf(type);
      await expect(p).rejects.toThrow(message);
    };
    await bad(editor.edit(image, "   "), InvalidArgumentError, /instruction is empty/);
    await bad(editor.edit(image, "x".repeat(10_000)), InvalidArgumentError, /at most 1000/);
    await bad(editor.edit(image, "make it brighter ".repeat(50)), InvalidArgumentError, /word pieces this model reads: shorten it/);
    // The MLLM reads MiniLM's word pieces: a misspelt instruction is many BPE tokens but few word pieces.
    const misspelt = "could you plese mkae the lil purpel star-shaped thingy in the bottom-rite corner a bit more yelowish";
    const m = editor.manifest.mllm!;
    expect(editor.tokenizer.promptIds(misspelt).length).toBeGreaterThan(m.max_len - m.num_prefix - m.max_new_tokens - m.num_img_tokens);
    expect((await editor.edit(image, misspelt, { steps: 1 })).expressiveInstruction).not.toBe("");
    await bad(editor.edit(image, "ok", { steps: 0 }), InvalidArgumentError, /steps/);
    await bad(editor.edit(image, "ok", { steps: 10_000 }), InvalidArgumentError, /steps/);
    await bad(editor.edit(image, "ok", { cfgText: Number.NaN }), InvalidArgumentError, /cfgText/);
    await bad(editor.edit(image, "ok", { cfgImage: -1 }), InvalidArgumentError, /cfgImage/);
    await bad(editor.edit(image, "ok", { scheduler: "pndm" as "ddim" }), InvalidArgumentError, /scheduler/);
    await bad(editor.edit(image, "ok", { regionThreshold: 2 }), InvalidArgumentError, /regionThreshold/);
    const noRegion = await MgieEditor.load(join(dir, "lgie"), { threads: 1 });
    await bad(noRegion.edit(image, "ok", { regionThreshold: 0.3 }), InvalidArgumentError, /lgie model has no region head/);
    await bad(editor.edit(Buffer.from("not an image"), "ok"), ImageInputError, /not a readable image/);
    await bad(editor.editBatch([]), InvalidArgumentError, /nothing to edit/);
    await bad(editor.edit(image, "ok", { mask: image, fullSize: false }), InvalidArgumentError, /a mask confines the full-size edit/);
    await bad(editor.edit(image, "ok", { mask: Buffer.from("not an image") }), InvalidArgumentError, /the mask is not a readable image/);
    const ac = new AbortController();
    ac.abort();
    await expect(editor.edit(image, "ok", { signal: ac.signal })).rejects.toMatchObject({ code: "ABORTED" });
  });

  it("names what is wrong with a model directory", async () => {
    await bad(MgieEditor.load(join(dir, "no-such-model")), /not an mgie model directory/);
    const broken = join(dir, "broken-model");
    await cp(join(dir, "mgie-e2e"), broken, { recursive: true });
    const unet = await readFile(join(broken, "unet.onnx"));
    await writeFile(join(broken, "unet.onnx"), unet.subarray(0, 1000));
    await bad(MgieEditor.load(broken), /unet.onnx is 1000 bytes.*truncated/);
    await writeFile(join(broken, "unet.onnx"), Buffer.from(unet).fill(7, 500, 600));
    await bad(MgieEditor.load(broken), /does not match the sha256/);
    const manifest = JSON.parse(await readFile(join(broken, "manifest.json"), "utf8"));
    await writeFile(join(broken, "manifest.json"), JSON.stringify({ ...manifest, format: "mgie-model-9" }));
    await bad(MgieEditor.load(broken), /format "mgie-model-9"/);
    await writeFile(join(broken, "manifest.json"), JSON.stringify({ ...manifest, mllm: { ...manifest.mllm, vision: false } }));
    await bad(MgieEditor.load(broken), /reads image cells, but its MLLM does not see the image/);
    await writeFile(join(broken, "unet.onnx"), unet);
    const { region_head: _, ...components } = manifest.components;
    await writeFile(join(broken, "manifest.json"), JSON.stringify({ ...manifest, components }));
    await bad(MgieEditor.load(broken), /lists no 'region_head' component, which its diffusion.region_threshold \(0.25\) needs/);
    async function bad(p: Promise<unknown>, message: RegExp) {
      await expect(p).rejects.toBeInstanceOf(ModelDirError);
      await expect(p).rejects.toThrow(message);
    }
  });
});
