import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { svgToPng } from "./chart.js";
import { TIMED_STAGES } from "./efficiency.js";
import type { EvalReport, EvalRun, SubsetResult } from "./evaluate.js";
import { BOOTSTRAP, type PairedDifference, verdict } from "./significance.js";
import { TRADEOFF_CFG_IMAGES, TRADEOFF_CFG_TEXT, tradeoffSvg } from "./tradeoff.js";

/** The files `writeReport` puts in the output folder. */
export const REPORT_FILES = {
  markdown: "report.md",
  json: "results.json",
  tradeoffSvg: "tradeoff.svg",
  tradeoffPng: "tradeoff.png",
  gallery: "gallery.png",
} as const;

/** The models of the paper's ablation, in its order: LGIE, then MGIE with its MLLM frozen, fine-tuned, end to end. */
const ABLATION_VARIANTS = ["lgie", "mgie-fz", "mgie-ft", "mgie-e2e"];
const EXPRESSIVE_SUBSETS = ["all", "photoshop", "global", "local", "ambiguous", "ambiguous-global", "ambiguous-local"];

const f = (v: number | null | undefined, d = 4) => (v === null || v === undefined || Number.isNaN(v) ? "–" : v.toFixed(d));
const pct = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? "–" : `${(100 * v).toFixed(1)}%`);
const tableHead = (cols: string[]) => [`| ${cols.join(" | ")} |`, `|${cols.map(() => "---|").join("")}`];

/** Table 1: one table per subset, the unedited input as the reference row. */
function subsetTables(r: EvalReport): string[] {
  const lines: string[] = [];
  const row = (name: string, x: SubsetResult) =>
    `| ${name} | ${f(x.l1)} | ${f(x.ssim, 3)} | ${f(x.psnr, 2)} | ${f(x.inside)} | ${f(x.outside)} | ${pct(x.exact)} | ${f(x.f1, 3)} |`;
  for (const s of Object.keys(r.input)) {
    lines.push(
      "",
      `## ${s} (n = ${r.input[s].n})`,
      "",
      ...tableHead(["method", "L1 ↓", "SSIM ↑", "PSNR ↑", "edit-region L1 ↓", "preservation L1 ↓", "ε exact ↑", "ε F1 ↑"]),
    );
    lines.push(row("unedited input", r.input[s]));
    for (const m of r.models) if (m.subsets[s]) lines.push(row(m.name, m.subsets[s]));
  }
  return lines;
}

/** L1 and SSIM per operation: what the per-kind means average over (a kind mixes easy and unlearned operations). */
function perOperation(r: EvalReport): string[] {
  const ops = Object.keys(r.inputOps);
  return [
    "",
    "## Per operation",
    "",
    "L1 / SSIM to the target for each operation the generator draws, unedited input first.",
    "",
    ...tableHead(["operation", "n", "unedited input", ...r.models.map((m) => m.name)]),
    ...ops.map((op) => {
      const cell = (x: SubsetResult | undefined) => (x ? `${f(x.l1)} / ${f(x.ssim, 3)}` : "–");
      return `| ${op} | ${r.inputOps[op].n} | ${cell(r.inputOps[op])} | ${r.models.map((m) => cell(m.ops[op])).join(" | ")} |`;
    }),
    "",
    `Flips and rotations, the orientation each model chose right: ${r.models
      .map(
        (m) =>
          `${m.name} ${m.orientation.right} of ${m.orientation.n}${m.orientation.n ? ` (${((100 * m.orientation.right) / m.orientation.n).toFixed(1)} %)` : ""}`,
      )
      .join(", ")}.`,
  ];
}

/** The first model minus each baseline per subset, with its interval and what it amounts to. */
function comparisons(r: EvalReport): string[] {
  if (r.comparisons.length === 0) return [];
  const d = (x: PairedDifference, digits: number) => `${x.mean >= 0 ? "+" : ""}${x.mean.toFixed(digits)} [${x.lo.toFixed(digits)}, ${x.hi.toFixed(digits)}]`;
  return [
    "",
    `## ${r.comparisons[0].model} against each baseline: which differences are real`,
    "",
    `The mean per-example difference (this model minus the baseline) with a ${100 * BOOTSTRAP.level} % paired-bootstrap interval`,
    `(${BOOTSTRAP.resamples.toLocaleString("en-US")} resamples of the examples, seed ${BOOTSTRAP.seed}). "Better" or "worse" when the interval leaves out 0; a`,
    "difference whose interval holds 0 is within what another draw of examples could reverse.",
    "",
    ...tableHead(["baseline", "subset", "n", "Δ L1", "L1", "Δ SSIM", "SSIM"]),
    ...r.comparisons.map(
      (c) => `| ${c.baseline} | ${c.subset} | ${c.n} | ${d(c.l1, 4)} | ${verdict(c.l1, true)} | ${d(c.ssim, 3)} | ${verdict(c.ssim, false)} |`,
    ),
  ];
}

/** The ablation, one row per model, when at least two of its variants were evaluated. */
function ablation(r: EvalReport): string[] {
  const models = r.models
    .filter((m) => ABLATION_VARIANTS.includes(m.variant))
    .sort((a, b) => ABLATION_VARIANTS.indexOf(a.variant) - ABLATION_VARIANTS.indexOf(b.variant));
  if (new Set(models.map((m) => m.variant)).size < 2) return [];
  const subsets = ["all", "ambiguous"];
  const metrics: [string, (x: SubsetResult | undefined) => string][] = [
    ["L1 ↓", (x) => f(x?.l1)],
    ["SSIM ↑", (x) => f(x?.ssim, 3)],
    ["edit-region L1 ↓", (x) => f(x?.inside)],
    ["preservation L1 ↓", (x) => f(x?.outside)],
    ["ε exact ↑", (x) => pct(x?.exact)],
  ];
  return [
    "",
    "## Ablation: MGIE-FZ / FT / E2E against LGIE",
    "",
    "Same examples and settings. FZ keeps the MLLM as pre-trained, FT as fine-tuned on the expressive",
    "instructions, both frozen; E2E trains it with the editor; LGIE derives the instruction with a",
    "text-only LM. The ambiguous columns are the examples whose instruction only the image resolves.",
    "",
    ...tableHead(["model", "variant", ...subsets.flatMap((s) => metrics.map(([name]) => `${name} (${s})`))]),
    ...models.map((m) => `| ${m.name} | ${m.variant} | ${subsets.flatMap((s) => metrics.map(([, v]) => v(m.subsets[s]))).join(" | ")} |`),
  ];
}

/** Exact match and word F1 of ε per subset, for every model with a language model. */
function expressiveQuality(r: EvalReport): string[] {
  const models = r.models.filter((m) => m.variant !== "inspix2pix");
  if (models.length === 0) return [];
  const subsets = EXPRESSIVE_SUBSETS.filter((s) => r.input[s]);
  return [
    "",
    "## Expressive instructions",
    "",
    "The expressive instruction ε each model derives, against the generator's: exact match (after",
    "lower-casing and collapsing spaces) and word F1. InsPix2Pix has no language model and is left out.",
    "",
    ...tableHead(["subset", "n", ...models.flatMap((m) => [`${m.name} exact ↑`, `${m.name} F1 ↑`])]),
    ...subsets.map((s) => `| ${s} | ${r.input[s].n} | ${models.flatMap((m) => [pct(m.subsets[s]?.exact), f(m.subsets[s]?.f1, 3)]).join(" | ")} |`),
  ];
}

function tradeoff(r: EvalReport): string[] {
  if (!r.tradeoff) return [];
  const n = r.tradeoff[0]?.n ?? 0;
  return [
    "",
    "## Trade-off: following the instruction vs preserving the input",
    "",
    `The paper's Figure 3: α_X = ${TRADEOFF_CFG_TEXT}, α_V = ${TRADEOFF_CFG_IMAGES.map((a) => a.toFixed(1)).join(", ")}, each point the first`,
    `${n} examples with seed ${r.seed}. x: edit-region L1 to the target (lower: the edit asked for`,
    "happened); y: SSIM of the output to the input image (higher: more of the input kept).",
    "",
    `![Trade-off curves, one per model](${REPORT_FILES.tradeoffPng})`,
    "",
    ...tableHead(["model", "α_X", "α_V", "edit-region L1 ↓", "SSIM to input ↑"]),
    ...r.tradeoff.map((p) => `| ${p.model} | ${p.cfgText.toFixed(1)} | ${p.cfgImage.toFixed(1)} | ${f(p.editRegionL1)} | ${f(p.ssimToInput, 3)} |`),
  ];
}

function efficiency(r: EvalReport): string[] {
  const lines = ["", "## Efficiency"];
  if (r.efficiency) {
    lines.push(
      "",
      `The paper's Table 4: seconds per edit in each stage (${r.steps ? `${r.steps} diffusion step${r.steps === 1 ? "" : "s"}` : "the model's number of diffusion steps"}), ONNX Runtime`,
      `on ${r.efficiency.machine}. Batch 1: the mean of 4 single edits; batch 8: one batch, divided by 8.`,
      "",
      ...tableHead(["model", "batch", ...TIMED_STAGES]),
      ...r.efficiency.rows.map((row) => `| ${row.model} | ${row.batch} | ${TIMED_STAGES.map((s) => f(row.seconds[s])).join(" | ")} |`),
    );
  }
  lines.push("", `Over the whole evaluation, in batches of ${r.batchSize}:`, "", ...tableHead(["method", "seconds per edit"]));
  for (const m of r.models) lines.push(`| ${m.name} | ${m.secondsPerEdit.toFixed(3)} |`);
  return lines;
}

function gallery(r: EvalReport): string[] {
  if (!r.gallery) return [];
  const n = r.gallery.length;
  return [
    "",
    "## Gallery",
    "",
    `${n} fixed ${r.split} examples, balanced over the kinds of edit and ambiguity. Each row: the input and`,
    "its instruction | each model's output and the expressive instruction it derived | the target and the",
    "expected expressive instruction.",
    "",
    `![Input, each model's output and the target for ${n} examples](${REPORT_FILES.gallery})`,
  ];
}

/** The report as Markdown: the per-subset tables, then each experiment that was run. */
export function reportMarkdown(r: EvalReport): string {
  const lines = [
    `# mgie eval: ${r.split} split, first ${r.limit} examples${r.steps ? `, ${r.steps} steps` : ""}${r.changeThreshold !== null ? `, change threshold ${r.changeThreshold}` : ""}${r.regionThreshold !== null ? `, region threshold ${r.regionThreshold}` : ""}, seed ${r.seed}`,
    "",
    "Metrics against the ground-truth target on [0, 1] pixels. Edit-region L1 is inside the generator's",
    "mask of pixels the edit must change, preservation L1 outside it. ε exact / F1: the derived expressive",
    "instruction against the generator's. CLIP/DINO/LPIPS need pretrained networks that cannot be had on",
    "this machine, so they are not reported.",
    ...subsetTables(r),
    ...comparisons(r),
    ...perOperation(r),
    ...ablation(r),
    ...expressiveQuality(r),
    ...tradeoff(r),
    ...efficiency(r),
    ...gallery(r),
  ];
  return `${lines.join("\n")}\n`;
}

/** Writes report.md, results.json and, as the run has them, the trade-off chart and the gallery; returns the Markdown. */
export async function writeReport(run: EvalRun, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const md = reportMarkdown(run.report);
  await writeFile(join(dir, REPORT_FILES.markdown), md);
  await writeFile(join(dir, REPORT_FILES.json), `${JSON.stringify(run.report, null, 2)}\n`);
  if (run.report.tradeoff) {
    const svg = await tradeoffSvg(run.report.tradeoff);
    await writeFile(join(dir, REPORT_FILES.tradeoffSvg), svg);
    await writeFile(join(dir, REPORT_FILES.tradeoffPng), await svgToPng(svg));
  }
  if (run.galleryPng) await writeFile(join(dir, REPORT_FILES.gallery), run.galleryPng);
  return md;
}
