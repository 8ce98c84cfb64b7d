import type { EditParams } from "../core/params.js";
import type { EditExample } from "../data/example.js";
import type { Split } from "../data/splits.js";
import { type GeneratorVersion, SynthEdit } from "../data/synthedit.js";
import { ORIENTATIONS, type Orientation } from "../render/orientation.js";
import { type Efficiency, measureEfficiency } from "./efficiency.js";
import { type GalleryRow, renderGallery } from "./gallery.js";
import { finiteMean, l1, maskedL1, psnr, ssim } from "./metrics.js";
import { editExamples, loadModels } from "./models.js";
import { type PairedDifference, pairedBootstrap } from "./significance.js";
import { sweepTradeoff, type TradeoffPoint } from "./tradeoff.js";

/** The edit parameters left out take each model's default. */
export type EvalOptions = Pick<EditParams, "steps" | "changeThreshold" | "regionThreshold"> & {
  models: string[];
  split: Split;
  /** The generator version of the examples (default synthedit-1, the fixed test split's). */
  generator?: GeneratorVersion;
  limit: number;
  seed: number;
  batchSize: number;
  /** Sweep α_V over the first `limit` examples (at most the evaluation's); no sweep when absent. */
  tradeoff?: { limit: number };
  /** Time each stage at batch 1 and 8. */
  efficiency?: boolean;
  /** Edit and render the gallery of 12 fixed examples. */
  gallery?: boolean;
  /** Progress of each task (a model's evaluation, its α_V sweep, …): done of total. */
  onProgress?: (task: string, done: number, total: number) => void;
};

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
  /** The same scores per operation ("photoshop/rotate-90", "local/recolour", …). */
  ops: Record<string, SubsetResult>;
  /** Flips and rotations: how many there were, and in how many the model chose the orientation the edit asks for. */
  orientation: { n: number; right: number };
  secondsPerEdit: number;
}

/** The first model minus a baseline on one subset, per example, with a 95 % paired-bootstrap interval. */
export interface Comparison {
  model: string;
  baseline: string;
  subset: string;
  n: number;
  l1: PairedDifference;
  ssim: PairedDifference;
}

export interface EvalReport {
  split: Split;
  limit: number;
  steps: number | null;
  seed: number;
  batchSize: number;
  changeThreshold: number | null;
  regionThreshold: number | null;
  input: Record<string, SubsetResult>;
  inputOps: Record<string, SubsetResult>;
  models: ModelResult[];
  /** The first model against each other one (none with a single model). */
  comparisons: Comparison[];
  tradeoff: TradeoffPoint[] | null;
  efficiency: Efficiency | null;
  gallery: GalleryRow[] | null;
}

/** The report and the gallery image, which results.json does not hold. */
export interface EvalRun {
  report: EvalReport;
  galleryPng: Buffer | null;
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

const opOf = (ex: EditExample): string[] => [`${ex.kind}/${ex.op}`];

/** The indices of the examples under each key `keysOf` gives them, keys sorted. */
function groupExamples(examples: EditExample[], keysOf: (ex: EditExample) => string[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  examples.forEach((ex, i) => {
    for (const s of keysOf(ex)) {
      if (!groups.has(s)) groups.set(s, []);
      groups.get(s)!.push(i);
    }
  });
  return new Map([...groups.entries()].sort());
}

/** The first model against each of the others, subset by subset, on the examples both edited. */
function compare(groups: Map<string, number[]>, names: string[], scores: Scores[][]): Comparison[] {
  const out: Comparison[] = [];
  for (let b = 1; b < names.length; b++) {
    for (const [subset, idx] of groups) {
      const pick = (m: number, k: "l1" | "ssim") => idx.map((i) => scores[m][i][k]);
      out.push({
        model: names[0],
        baseline: names[b],
        subset,
        n: idx.length,
        l1: pairedBootstrap(pick(0, "l1"), pick(b, "l1")),
        ssim: pairedBootstrap(pick(0, "ssim"), pick(b, "ssim")),
      });
    }
  }
  return out;
}

function aggregate(groups: Map<string, number[]>, scores: Scores[], withText: boolean): Record<string, SubsetResult> {
  const out: Record<string, SubsetResult> = {};
  for (const [k, idx] of groups) {
    const v = idx.map((i) => scores[i]);
    out[k] = {
      n: v.length,
      l1: finiteMean(v.map((s) => s.l1)),
      ssim: finiteMean(v.map((s) => s.ssim)),
      psnr: finiteMean(v.map((s) => Math.min(s.psnr, 100))),
      inside: finiteMean(v.map((s) => s.inside)),
      outside: finiteMean(v.map((s) => s.outside)),
      exact: withText ? finiteMean(v.map((s) => s.exact)) : null,
      f1: withText ? finiteMean(v.map((s) => s.f1)) : null,
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

/**
 * Edits the first `limit` examples of a split with each model and scores them against the targets;
 * then, as asked, the α_V sweep, the timing per stage and the gallery, all with the same seed.
 */
export async function evaluate(o: EvalOptions): Promise<EvalRun> {
  const models = await loadModels(o.models);
  const gen = await SynthEdit.create({ res: models[0].editor.manifest.resolution, generator: o.generator ?? "synthedit-1" });
  const examples: EditExample[] = [];
  for (let i = 0; i < o.limit; i++) examples.push(await gen.example(o.split, i));
  const settings = { steps: o.steps, seed: o.seed, batchSize: o.batchSize, changeThreshold: o.changeThreshold, regionThreshold: o.regionThreshold };
  const subsets = groupExamples(examples, subsetsOf);
  const ops = groupExamples(examples, opOf);
  const inputScores = examples.map((ex) => score(ex.input, ex, null));
  const results: ModelResult[] = [];
  const perExample: Scores[][] = [];
  const geometric = examples.flatMap((ex, i) => (ORIENTATIONS.includes(ex.op as Orientation) ? [i] : []));
  for (const { dir, name, editor } of models) {
    const t0 = performance.now();
    const withText = editor.manifest.variant !== "inspix2pix";
    const edits = await editExamples(editor, examples, settings, (done) => o.onProgress?.(name, done, examples.length));
    const scores = edits.map((r, i) => score(r.image, examples[i], withText ? r.expressiveInstruction : null));
    perExample.push(scores);
    results.push({
      name,
      variant: editor.manifest.variant,
      dir,
      subsets: aggregate(subsets, scores, withText),
      ops: aggregate(ops, scores, withText),
      orientation: { n: geometric.length, right: geometric.filter((i) => edits[i].orientation === examples[i].op).length },
      secondsPerEdit: (performance.now() - t0) / 1000 / examples.length,
    });
  }
  const tradeoff = o.tradeoff ? await sweepTradeoff(models, examples.slice(0, o.tradeoff.limit), settings, o.onProgress) : null;
  const efficiency = o.efficiency ? await measureEfficiency(models, examples, settings, o.onProgress) : null;
  // The gallery's examples are looked for from index 0: reuse those already generated.
  const cached = { example: (split: Split, i: number) => (split === o.split && i < examples.length ? Promise.resolve(examples[i]) : gen.example(split, i)) };
  const gallery = o.gallery ? await renderGallery(models, cached, o.split, settings, o.onProgress) : null;
  return {
    report: {
      split: o.split,
      limit: o.limit,
      steps: o.steps ?? null,
      seed: o.seed,
      batchSize: o.batchSize,
      changeThreshold: o.changeThreshold ?? null,
      regionThreshold: o.regionThreshold ?? null,
      input: aggregate(subsets, inputScores, false),
      inputOps: aggregate(ops, inputScores, false),
      models: results,
      comparisons: compare(
        subsets,
        results.map((m) => m.name),
        perExample,
      ),
      tradeoff,
      efficiency,
      gallery: gallery?.rows ?? null,
    },
    galleryPng: gallery?.png ?? null,
  };
}
