import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { SynthEdit } from "../src/data/synthedit.js";
import { evaluate, reportMarkdown, tokenF1 } from "../src/eval/evaluate.js";
import { l1 } from "../src/eval/metrics.js";

const TINY = fileURLToPath(new URL("./fixtures/tiny-model", import.meta.url));

describe("mgie eval", () => {
  it("scores the expressive instruction by exact match and word F1", () => {
    expect(tokenF1("make the small red circle blue", "make the small red circle blue")).toBe(1);
    // 4 common words, precision 4/5, recall 4/6.
    expect(tokenF1("make the red circle green", "make the small red circle blue")).toBeCloseTo((2 * 0.8 * (4 / 6)) / (0.8 + 4 / 6), 10);
    expect(tokenF1("", "x")).toBe(0);
  });

  it("evaluates a model on the first examples of a split, per kind, with the unedited input as reference", async () => {
    const report = await evaluate({ models: [TINY, TINY], split: "test", limit: 6, steps: 1, seed: 0, batchSize: 4 });
    expect(report.models).toHaveLength(2);
    expect(report.input.all.n).toBe(6);
    const gen = await SynthEdit.create({ res: 32 });
    let sum = 0;
    for (let i = 0; i < 6; i++) {
      const ex = await gen.example("test", i);
      sum += l1(ex.input, ex.target);
    }
    expect(report.input.all.l1).toBeCloseTo(sum / 6, 6);
    expect(report.input.all.outside).toBe(0);
    expect(report.models[0].subsets.all).toEqual(report.models[1].subsets.all);
    const md = reportMarkdown(report);
    expect(md).toContain("| unedited input |");
    expect(md).toContain("## all (n = 6)");
  });
});
