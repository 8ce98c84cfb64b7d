import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { evalCommand } from "../src/cli/eval.js";
import { Rng } from "../src/core/rng.js";
import { SynthEdit } from "../src/data/synthedit.js";
import { type EvalReport, evaluate, tokenF1 } from "../src/eval/evaluate.js";
import { GALLERY_PANEL } from "../src/eval/gallery.js";
import { l1, maskedL1, ssim } from "../src/eval/metrics.js";
import { loadModels } from "../src/eval/models.js";
import { REPORT_FILES, reportMarkdown } from "../src/eval/report.js";
import { pairedBootstrap, verdict } from "../src/eval/significance.js";
import { sweepTradeoff, TRADEOFF_CFG_IMAGES } from "../src/eval/tradeoff.js";

const TINY = fileURLToPath(new URL("./fixtures/tiny-model", import.meta.url));
const SETTINGS = { steps: 1, seed: 3, batchSize: 4 };
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mgie-eval-"));
});

describe("mgie eval", () => {
  it("scores the expressive instruction by exact match and word F1", () => {
    expect(tokenF1("make the small red circle blue", "make the small red circle blue")).toBe(1);
    // 4 common words, precision 4/5, recall 4/6.
    expect(tokenF1("make the red circle green", "make the small red circle blue")).toBeCloseTo((2 * 0.8 * (4 / 6)) / (0.8 + 4 / 6), 10);
    expect(tokenF1("", "x")).toBe(0);
  });

  it("counts the flips and rotations whose orientation the model chose right", async () => {
    // The first 15 test examples hold two: 12 (rotate-270) and 14 (flip-horizontal).
    const { report } = await evaluate({ models: [TINY], split: "test", limit: 15, steps: 1, seed: 0, batchSize: 4 });
    const gen = await SynthEdit.create({ res: 32, generator: "synthedit-1" });
    const [{ editor }] = await loadModels([TINY]);
    let right = 0;
    for (const i of [12, 14]) {
      const ex = await gen.example("test", i);
      const [r] = await editor.editBatch([{ image: ex.input, instruction: ex.instruction }], { steps: 1, seed: 0 });
      right += Number(r.orientation === ex.op);
    }
    expect(report.models[0].orientation).toEqual({ n: 2, right });
  });

  it("evaluates a model on the first examples of a split, per kind, with the unedited input as reference", async () => {
    const { report, galleryPng } = await evaluate({ models: [TINY, TINY], split: "test", limit: 6, steps: 1, seed: 0, batchSize: 4 });
    expect(report.models.map((m) => m.name)).toEqual(["mgie-e2e", "mgie-e2e (2)"]);
    expect(report.input.all.n).toBe(6);
    const gen = await SynthEdit.create({ res: 32, generator: "synthedit-1" });
    let sum = 0;
    for (let i = 0; i < 6; i++) {
      const ex = await gen.example("test", i);
      sum += l1(ex.input, ex.target);
    }
    expect(report.input.all.l1).toBeCloseTo(sum / 6, 6);
    expect(report.input.all.outside).toBe(0);
    expect(report.models[0].subsets.all).toEqual(report.models[1].subsets.all);
    expect([report.tradeoff, report.efficiency, report.gallery, galleryPng]).toEqual([null, null, null, null]);
    const md = reportMarkdown(report);
    expect(md).toContain("| unedited input |");
    expect(md).toContain("## all (n = 6)");
    expect(md).toContain("## Expressive instructions");
    expect(md).not.toContain("## Trade-off");
    // The same model twice: every paired difference is exactly 0, which is no evidence either way.
    expect(report.comparisons.map((c) => [c.model, c.baseline, c.subset])).toEqual(Object.keys(report.input).map((s) => ["mgie-e2e", "mgie-e2e (2)", s]));
    for (const c of report.comparisons) {
      expect(c.n).toBe(report.input[c.subset].n);
      expect([c.l1, c.ssim]).toEqual([
        { mean: 0, lo: 0, hi: 0 },
        { mean: 0, lo: 0, hi: 0 },
      ]);
    }
    // Per operation: the examples split by what the generator did, and the same scores.
    const ops = report.inputOps;
    expect(Object.values(ops).reduce((n, x) => n + x.n, 0)).toBe(6);
    expect(Object.keys(report.models[0].ops)).toEqual(Object.keys(ops));
    for (const op of Object.keys(ops)) expect(op).toMatch(/^(photoshop|global|local)\/[a-z0-9-]+$/);
    expect(md).toContain("## Per operation");
    const geometric = Object.entries(ops)
      .filter(([op]) => /\/(flip|rotate)-/.test(op))
      .reduce((n, [, x]) => n + x.n, 0);
    for (const m of report.models) {
      expect(m.orientation.n).toBe(geometric);
      expect(m.orientation.right).toBeLessThanOrEqual(geometric);
    }
    expect(md).toContain(`Flips and rotations, the orientation each model chose right: mgie-e2e ${report.models[0].orientation.right} of ${geometric}`);
    expect(md).toContain("| mgie-e2e (2) | all | 6 | +0.0000 [0.0000, 0.0000] | within noise | +0.000 [0.000, 0.000] | within noise |");
    // One variant only: nothing to ablate. With two, one row per model in the paper's order (FT before E2E).
    expect(md).not.toContain("## Ablation");
    const [e2e, ft] = [report.models[0], { ...report.models[1], name: "mgie-ft", variant: "mgie-ft" }];
    const ablation = reportMarkdown({ ...report, models: [e2e, ft] })
      .split("## Ablation")[1]
      .split("\n## ")[0];
    const rows = ablation.split("\n").filter((l) => /^\| mgie-/.test(l));
    expect(rows.map((l) => l.split(" | ")[0])).toEqual(["| mgie-ft", "| mgie-e2e"]);
    expect(rows[1].startsWith(`| mgie-e2e | mgie-e2e | ${e2e.subsets.all.l1.toFixed(4)} | ${e2e.subsets.all.ssim.toFixed(3)} |`)).toBe(true);
    expect(rows[1].split(" | ")).toHaveLength(12);
  });

  it("tells a real difference between two models from noise with a paired bootstrap", () => {
    const rng = new Rng(7);
    const base = Array.from({ length: 400 }, () => rng.next());
    const noise = () => (rng.next() - 0.5) * 0.02;
    // Hard and easy examples vary far more than the models differ: pairing is what reveals the shift.
    const shifted = base.map((x) => x - 0.005 + noise());
    const d = pairedBootstrap(shifted, base);
    expect(d.mean).toBeCloseTo(shifted.reduce((s, x, i) => s + x - base[i], 0) / base.length, 12);
    expect(d.lo).toBeLessThan(d.mean);
    expect(d.hi).toBeGreaterThan(d.mean);
    expect(d.hi).toBeLessThan(0);
    expect([verdict(d, true), verdict(d, false)]).toEqual(["better", "worse"]);
    const same = pairedBootstrap(
      base.map((x) => x + noise()),
      base,
    );
    expect(same.lo).toBeLessThan(0);
    expect(same.hi).toBeGreaterThan(0);
    expect(verdict(same, true)).toBe("within noise");
    // Seeded: the same scores give the same interval.
    expect(pairedBootstrap(shifted, base)).toEqual(d);
    expect(() => pairedBootstrap([1, 2], [1])).toThrow(/differ in length/);
  });

  describe("mgie eval --tradeoff: the paper's experiments", () => {
    let out: string;
    let report: EvalReport;
    let printed: unknown[];

    beforeAll(async () => {
      out = join(dir, "report");
      const log = vi.spyOn(console, "log").mockImplementation(() => {});
      try {
        const settings = ["--steps", SETTINGS.steps, "--seed", SETTINGS.seed, "--batch-size", SETTINGS.batchSize].map(String);
        await evalCommand().parseAsync(["--model", TINY, "--limit", "2", "--tradeoff", "--tradeoff-limit", "10", ...settings, "--out", out], { from: "user" });
        printed = log.mock.calls.flat();
      } finally {
        log.mockRestore();
      }
      report = JSON.parse(await readFile(join(out, REPORT_FILES.json), "utf8"));
    });

    it("sweeps α_V at α_X 7.5 on the same examples (at most --limit) and seed, deterministically", async () => {
      expect(report.limit).toBe(2);
      const points = report.tradeoff!;
      expect(points.map((p) => [p.model, p.cfgImage])).toEqual(TRADEOFF_CFG_IMAGES.map((a) => ["mgie-e2e", a]));
      expect(points.every((p) => p.cfgText === 7.5 && p.n === 2)).toBe(true);
      // α_V reaches the UNet: the points differ along the curve.
      expect(new Set(points.map((p) => p.ssimToInput)).size).toBeGreaterThan(1);

      // One point by hand: x is the L1 to the target inside the mask, y the SSIM to the input.
      const [tiny] = await loadModels([TINY]);
      const gen = await SynthEdit.create({ res: 32, generator: "synthedit-1" });
      const examples = await Promise.all([0, 1].map((i) => gen.example("test", i)));
      const edited = await tiny.editor.editBatch(
        examples.map((ex) => ({ image: ex.input, instruction: ex.instruction })),
        { steps: SETTINGS.steps, seed: SETTINGS.seed, cfgText: 7.5, cfgImage: 1.4, fullSize: false },
      );
      const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
      const point = points.find((p) => p.cfgImage === 1.4)!;
      expect(point.editRegionL1).toBeCloseTo(mean(edited.map((r, i) => maskedL1(r.image, examples[i].target, examples[i].mask).inside)), 6);
      expect(point.ssimToInput).toBeCloseTo(mean(edited.map((r, i) => ssim(r.image, examples[i].input))), 6);

      expect(await sweepTradeoff([tiny], examples, SETTINGS)).toEqual(points);
    });

    it("writes the trade-off chart as a well-formed SVG with axes, legend and α_V labels, and its PNG", async () => {
      const svg = await readFile(join(out, REPORT_FILES.tradeoffSvg), "utf8");
      expect(svg).toMatch(/^<svg[\s\S]*<\/svg>$/);
      for (const text of ["edit-region L1 to the target", "SSIM to the input", "model", "mgie-e2e", ...TRADEOFF_CFG_IMAGES.map((a) => `>${a.toFixed(1)}<`)])
        expect(svg).toContain(text);
      expect((await sharp(Buffer.from(svg)).png().toBuffer()).length).toBeGreaterThan(1000);
      const png = await sharp(join(out, REPORT_FILES.tradeoffPng)).metadata();
      expect(png.format).toBe("png");
      expect(png.width).toBeGreaterThan(500);
    });

    it("times each stage per edit at batch 1 and 8 and names the machine", () => {
      const e = report.efficiency!;
      expect(e.machine).toMatch(/, \d+ cores$/);
      expect(e.rows.map((r) => [r.model, r.batch, r.edits])).toEqual([
        ["mgie-e2e", 1, 4],
        ["mgie-e2e", 8, 8],
      ]);
      for (const r of e.rows) {
        expect(r.seconds.total).toBeGreaterThan(0);
        expect(r.seconds.mllm).toBeGreaterThan(0);
        expect(r.seconds.diffusion! + r.seconds.mllm!).toBeLessThanOrEqual(r.seconds.total!);
      }
    });

    it("renders a gallery of 12 balanced examples: input | each model | target", async () => {
      const rows = report.gallery!;
      expect(rows).toHaveLength(12);
      expect(new Set(rows.map((r) => r.kind))).toEqual(new Set(["photoshop", "global", "local"]));
      expect(rows.filter((r) => r.ambiguity).length).toBeGreaterThanOrEqual(4);
      expect(Object.keys(rows[0].derived)).toEqual(["mgie-e2e"]);
      const meta = await sharp(join(out, REPORT_FILES.gallery)).metadata();
      expect(meta.format).toBe("png");
      // Three panels (input, the model, target) and four gaps of 10 px; twelve rows of equal height.
      expect(meta.width).toBe(3 * GALLERY_PANEL + 4 * 10);
      expect(meta.height! % 12).toBe(0);
      expect(meta.height! / 12).toBeGreaterThan(GALLERY_PANEL);
    });

    it("reports the expressive instructions, the trade-off, the efficiency and the gallery", async () => {
      const md = await readFile(join(out, REPORT_FILES.markdown), "utf8");
      expect(printed).toEqual([md]);
      expect(md).toBe(reportMarkdown(report));
      expect(md).toMatch(/^\| subset \| n \| mgie-e2e exact ↑ \| mgie-e2e F1 ↑ \|$/m);
      expect(md).toContain(`![Trade-off curves, one per model](${REPORT_FILES.tradeoffPng})`);
      expect(md.match(/^\| mgie-e2e \| 7\.5 \| \d\.\d \|/gm)).toHaveLength(7);
      expect(md).toMatch(/^\| mgie-e2e \| 8 \|( \d+\.\d{4} \|){7}$/m);
      expect(md).toContain(`](${REPORT_FILES.gallery})`);
      for (const f of Object.values(REPORT_FILES)) expect((await readFile(join(out, f))).length, f).toBeGreaterThan(0);
    });
  });
});
