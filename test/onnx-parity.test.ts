import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { writeDataset } from "../src/data/dataset.js";
import { npyValues, parseNpyArray, type NpyArray } from "../src/data/npy.js";
import { singleThreadSource } from "../src/data/pool.js";
import { SynthEdit } from "../src/data/synthedit.js";

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
  await python("all", ...common, "--steps", "3");
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
      case: string; component: string; inputs: Record<string, string>; outputs: Record<string, string>;
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
    const expected = variant === "inspix2pix" ? ["vae_encoder", "vae_decoder", "unet", "text_encoder"] : ["vae_encoder", "vae_decoder", "unet", "embed", "lm", "lm_prefill", "lm_step", "edit_head"];
    if (variant === "mgie-e2e") expected.push("prefix");
    expect([...seen].sort()).toEqual(expected.sort());
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
