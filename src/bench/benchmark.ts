import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as ort from "onnxruntime-node";
import { resolveEditParams } from "../core/params.js";
import { Rng } from "../core/rng.js";
import { MgieError } from "../errors.js";
import { createImage, type RgbImage } from "../image/raster.js";
import { modelDefaults } from "../models/modelDir.js";
import { EDIT_STAGES, MgieEditor } from "../pipeline/editor.js";
import { guidanceGroups } from "../pipeline/guidance.js";
import { benchPhotoSizes, median } from "./photoSizes.js";

const PEAK_MODEL = fileURLToPath(new URL("../../assets/bench/matmul.onnx", import.meta.url));
const TRAIN_DIR = fileURLToPath(new URL("../../train", import.meta.url));

export interface BenchmarkOptions {
  model: string;
  /** Diffusion steps; the model's default when absent. */
  steps?: number;
  repeats: number;
  threads?: number;
  batches: number[];
  /** A training run folder: also time the PyTorch reference pipeline on the same weights. */
  pytorchRun?: string;
  pytorchData?: string;
  python?: string;
  /** A photo to make the 1, 4, 12 and 24 MP test photos from: also time full-size editing by photo size, and a cold one-shot edit. */
  photoSizes?: string;
  log?: (line: string) => void;
}

/** ONNX Runtime's throughput on a 1024 x 1024 float32 matrix product: the machine's practical peak. */
export async function measurePeak(threads?: number): Promise<number> {
  const s = await ort.InferenceSession.create(PEAK_MODEL, { intraOpNumThreads: threads ?? 0 });
  const n = 1024;
  const a = new ort.Tensor("float32", new Rng(1).gaussians(n * n), [n, n]);
  await s.run({ a, b: a });
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 4; i++) await s.run({ a, b: a });
    best = Math.min(best, (performance.now() - t0) / 4);
  }
  await s.release();
  return (2 * n ** 3) / (best / 1000) / 1e9;
}

function testImage(res: number): RgbImage {
  const rng = new Rng(5);
  const img = createImage(res, res);
  for (let i = 0; i < img.data.length; i++) img.data[i] = 0.3 + 0.4 * rng.next();
  return img;
}

/** Runs the benchmark and returns it as a Markdown report. */
export async function benchmark(options: BenchmarkOptions): Promise<string> {
  const log = options.log ?? (() => {});
  const out: string[] = [];
  log("measuring the ONNX Runtime peak (1024^3 matmul)...");
  const peak = await measurePeak(options.threads);
  const editor = await MgieEditor.load(options.model, { threads: options.threads });
  const m = editor.manifest;
  const params = resolveEditParams(modelDefaults(m), { steps: options.steps });
  const o = { ...options, steps: params.steps };
  const flops = m.flops;
  const image = testImage(m.resolution);
  const instruction = "make the odd one out red";
  log("warming up...");
  await editor.edit(image, instruction, { steps: o.steps });

  log(`timing ${o.repeats} single edits at ${o.steps} steps...`);
  const runs: Record<string, number>[] = [];
  let tokens = 0;
  for (let r = 0; r < o.repeats; r++) {
    const res = await editor.edit(image, instruction, { steps: o.steps, seed: r });
    runs.push(res.timings);
    tokens = editor.tokenizer.promptIds(instruction).length + editor.tokenizer.encode(res.expressiveInstruction).length + (m.mllm?.num_img_tokens ?? 0);
  }
  const stageFlops: Record<string, number> = {
    mllm: (flops.prefix ?? 0) + tokens * (flops.lm ?? 0),
    "edit-head": 2 * (flops.edit_head ?? flops.text_encoder ?? 0),
    "vae-encode": flops.vae_encoder ?? 0,
    diffusion: o.steps * guidanceGroups(params.cfgText, params.cfgImage) * (flops.unet ?? 0),
    "vae-decode": (m.diffusion.residual_decode ? 2 : 1) * (flops.vae_decoder ?? 0),
  };
  out.push(`Model: ${m.name} (${m.variant}), ${m.resolution}x${m.resolution}, ${o.steps} steps, ${o.threads ?? "all"} threads.`);
  out.push(`ONNX Runtime peak on this machine (1024^3 float32 matmul): **${peak.toFixed(0)} GFLOP/s**.`, "");
  out.push("| stage | median ms | GFLOP | GFLOP/s | share of peak |", "|---|---|---|---|---|");
  for (const stage of [...EDIT_STAGES, "total"]) {
    const ms = median(runs.map((t) => t[stage] ?? 0));
    const gf = stage === "total" ? Object.values(stageFlops).reduce((a, b) => a + b, 0) / 1e9 : (stageFlops[stage] ?? 0) / 1e9;
    const rate = gf > 0 ? gf / (ms / 1000) : 0;
    out.push(
      `| ${stage} | ${ms.toFixed(1)} | ${gf > 0 ? gf.toFixed(3) : "–"} | ${gf > 0 ? rate.toFixed(1) : "–"} | ${gf > 0 ? `${((100 * rate) / peak).toFixed(0)}%` : "–"} |`,
    );
  }
  const single = median(runs.map((t) => t.total));

  // The diffusion loop's share of peak grows with the batch: at 16x16 latents one UNet call is too
  // small to keep both cores' matrix units busy.
  out.push("", "| batch | seconds per batch | seconds per edit | edits/s | diffusion GFLOP/s | diffusion share of peak |", "|---|---|---|---|---|---|");
  for (const b of o.batches) {
    log(`timing a batch of ${b}...`);
    const items = Array.from({ length: b }, () => ({ image, instruction }));
    const times: number[] = [];
    const diffusionMs: number[] = [];
    for (let r = 0; r < Math.max(1, Math.min(o.repeats, 3)); r++) {
      const t0 = performance.now();
      const res = await editor.editBatch(items, { steps: o.steps, seed: r });
      times.push(performance.now() - t0);
      diffusionMs.push(res[0].timings.diffusion);
    }
    const s = median(times) / 1000;
    const rate = (b * stageFlops.diffusion) / 1e9 / (median(diffusionMs) / 1000);
    out.push(`| ${b} | ${s.toFixed(2)} | ${(s / b).toFixed(3)} | ${(b / s).toFixed(2)} | ${rate.toFixed(1)} | ${((100 * rate) / peak).toFixed(0)}% |`);
  }
  out.push("", `Peak resident memory of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB.`);

  if (o.pytorchRun) {
    log("timing the PyTorch reference pipeline on the same weights...");
    const py = o.python ?? process.env.MGIE_PYTHON ?? "/usr/bin/python3";
    const config = typeof m.training.config === "string" ? m.training.config : "default";
    const args = [
      "-m",
      "mgie_train",
      "bench",
      "--config",
      config,
      "--variant",
      m.variant,
      "--run",
      resolve(o.pytorchRun),
      "--data",
      resolve(o.pytorchData ?? ""),
      "--steps",
      String(o.steps),
      "--limit",
      String(o.repeats),
    ];
    if (o.threads) args.push("--threads", String(o.threads));
    let stdout: string;
    try {
      ({ stdout } = await promisify(execFile)(py, args, { cwd: TRAIN_DIR, timeout: 1_800_000 }));
    } catch (e) {
      throw new MgieError("BENCH_PYTORCH", `the PyTorch reference run failed: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`);
    }
    const ref = JSON.parse(stdout.trim().split("\n").pop()!) as { seconds_per_edit: number };
    out.push("", "| pipeline, same weights and settings, batch 1 | seconds per edit |", "|---|---|");
    out.push(`| TypeScript (onnxruntime-node) | ${(single / 1000).toFixed(3)} |`);
    out.push(`| PyTorch reference (train/mgie_train/pipeline.py) | ${ref.seconds_per_edit.toFixed(3)} |`);
    out.push(`| **speed-up** | **${(ref.seconds_per_edit / (single / 1000)).toFixed(2)}x** |`);
  }
  if (o.photoSizes) out.push("", await benchPhotoSizes(o.model, o.photoSizes, Math.max(1, Math.min(o.repeats, 3)), log));
  return out.join("\n");
}
