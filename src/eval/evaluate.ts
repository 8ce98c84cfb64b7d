import type { EditExample } from "../data/example.js";
import type { Split } from "../data/splits.js";
import { SynthEdit } from "../data/synthedit.js";
import { MgieEditor } from "../pipeline/editor.js";
import { l1, maskedL1, psnr, ssim } from "./metrics.js";

export interface EvalOptions {
  models: string[];
  split: Split;
  limit: number;
  steps?: number;
  seed: number;
  batchSize: number;
  onProgress?: (model: string, done: number, total: number) => void;
}

/** Per-example scores of one model. */
interface Scores {
  l1: number;
  ssim: number;
  psnr: number;
  inside: number;
  outside: number;
  exact: number;
  f1: number;
}

export interface SubsetResult extends Omit<Scores, "exact" | "f1"> {
  n: number;
  exact: number | null;
  f1: number | null;
}

export interface ModelResult {
  name: string;
  variant: string;
  dir: string;
  subsets: Record<string, SubsetResult>;
  secondsPerEdit: number;
}

export interface EvalReport {
  split: Split;
  limit: number;
  steps: number | null;
  input: Record<string, SubsetResult>;
  models: ModelResult[];
}

const norm = (s: string) => s.trim().toLowerCase().replace(/\s+/g, " ");

/** Word-level F1 between the derived and the ground-truth expressive instruction. */
export function tokenF1(got: string, want: string): number {
  const g = norm(got).split(" ").filter(Boolean);
  const w = norm(want).split(" ").filter(Boolean);
  if (g.length === 0 || w.length === 0) return g.length === w.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of w) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of g) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      common++;
      counts.set(t, c - 1);
    }
  }
  if (common === 0) return 0;
  const p = common / g.length;
  const r = common / w.length;
  return (2 * p * r) / (p + r);
}

function subsetsOf(ex: EditExample): string[] {
  return ["all", ex.kind, ...(ex.ambiguity ? ["ambiguous", `ambiguous-${ex.kind}`] : [])];
}

function aggregate(examples: EditExample[], scores: Scores[], withText: boolean): Record<string, SubsetResult> {
  const groups = new Map<string, Scores[]>();
  examples.forEach((ex, i) => {
    for (const s of subsetsOf(ex)) {
      if (!groups.has(s)) groups.set(s, []);
      groups.get(s)!.push(scores[i]);
    }
  });
  const mean = (v: number[]) => {
    const f = v.filter((x) => Number.isFinite(x));
    return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
  };
  const out: Record<string, SubsetResult> = {};
  for (const [k, v] of [...groups.entries()].sort()) {
    out[k] = {
      n: v.length,
      l1: mean(v.map((s) => s.l1)),
      ssim: mean(v.map((s) => s.ssim)),
      psnr: mean(v.map((s) => Math.min(s.psnr, 100))),
      inside: mean(v.map((s) => s.inside)),
      outside: mean(v.map((s) => s.outside)),
      exact: withText ? mean(v.map((s) => s.exact)) : null,
      f1: withText ? mean(v.map((s) => s.f1)) : null,
    };
  }
  return out;
}

function score(out: EditExample["input"], ex: EditExample, expressive: string | null): Scores {
  const m = maskedL1(out, ex.target, ex.mask);
  return {
    l1: l1(out, ex.target),
    ssim: ssim(out, ex.target),
    psnr: psnr(out, ex.target),
    inside: m.inside,
    outside: m.outside,
    exact: expressive === null ? 0 : Number(norm(expressive) === norm(ex.expressive)),
    f1: expressive === null ? 0 : tokenF1(expressive, ex.expressive),
  };
}

/** Edits the first `limit` examples of a split with each model and scores them against the targets. */
export async function evaluate(o: EvalOptions): Promise<EvalReport> {
  const editors = [];
  for (const dir of o.models) editors.push({ dir, editor: await MgieEditor.load(dir) });
  const res = editors[0].editor.manifest.resolution;
  for (const e of editors) {
    if (e.editor.manifest.resolution !== res) throw new RangeError(`${e.dir} works at ${e.editor.manifest.resolution} px, ${o.models[0]} at ${res}: compare models of one resolution`);
  }
  const gen = await SynthEdit.create({ res });
  const examples: EditExample[] = [];
  for (let i = 0; i < o.limit; i++) examples.push(await gen.example(o.split, i));
  const input = aggregate(examples, examples.map((ex) => score(ex.input, ex, null)), false);
  const models: ModelResult[] = [];
  for (const { dir, editor } of editors) {
    const scores: Scores[] = [];
    const t0 = performance.now();
    for (let i = 0; i < examples.length; i += o.batchSize) {
      const chunk = examples.slice(i, i + o.batchSize);
      const results = await editor.editBatch(chunk.map((ex) => ({ image: ex.input, instruction: ex.instruction })), { steps: o.steps, seed: o.seed + i });
      results.forEach((r, k) => scores.push(score(r.image, chunk[k], editor.manifest.variant === "inspix2pix" ? null : r.expressiveInstruction)));
      o.onProgress?.(editor.manifest.name, Math.min(examples.length, i + o.batchSize), examples.length);
    }
    models.push({
      name: editor.manifest.name,
      variant: editor.manifest.variant,
      dir,
      subsets: aggregate(examples, scores, editor.manifest.variant !== "inspix2pix"),
      secondsPerEdit: (performance.now() - t0) / 1000 / examples.length,
    });
  }
  return { split: o.split, limit: o.limit, steps: o.steps ?? null, input, models };
}

const f = (v: number | null, d = 4) => (v === null || Number.isNaN(v) ? "–" : v.toFixed(d));
const pct = (v: number | null) => (v === null || Number.isNaN(v) ? "–" : `${(100 * v).toFixed(1)}%`);

/** The report as Markdown: one table per subset, the unedited input as the reference row. */
export function reportMarkdown(r: EvalReport): string {
  const lines = [
    `# mgie eval: ${r.split} split, first ${r.limit} examples${r.steps ? `, ${r.steps} steps` : ""}`,
    "",
    "Metrics against the ground-truth target on [0, 1] pixels. Edit-region L1 is inside the generator's",
    "mask of pixels the edit must change, preservation L1 outside it. ε exact / F1: the derived expressive",
    "instruction against the generator's. CLIP/DINO/LPIPS need pretrained networks that cannot be had on",
    "this machine, so they are not reported.",
  ];
  const subsets = Object.keys(r.input);
  for (const s of subsets) {
    lines.push("", `## ${s} (n = ${r.input[s].n})`, "", "| method | L1 ↓ | SSIM ↑ | PSNR ↑ | edit-region L1 ↓ | preservation L1 ↓ | ε exact ↑ | ε F1 ↑ |", "|---|---|---|---|---|---|---|---|");
    const row = (name: string, x: SubsetResult) =>
      `| ${name} | ${f(x.l1)} | ${f(x.ssim, 3)} | ${f(x.psnr, 2)} | ${f(x.inside)} | ${f(x.outside)} | ${pct(x.exact)} | ${f(x.f1, 3)} |`;
    lines.push(row("unedited input", r.input[s]));
    for (const m of r.models) if (m.subsets[s]) lines.push(row(m.name, m.subsets[s]));
  }
  lines.push("", "| method | seconds per edit (batched) |", "|---|---|");
  for (const m of r.models) lines.push(`| ${m.name} | ${m.secondsPerEdit.toFixed(3)} |`);
  return lines.join("\n") + "\n";
}
