import { beforeAll, describe, expect, it } from "vitest";
import type { EditExample } from "../src/data/example.js";
import { expressiveCatalogue } from "../src/data/language/expressive.js";
import { SynthEdit } from "../src/data/synthedit.js";
import { handwrittenExamples, handwrittenUnsupported } from "../src/eval/handwritten.js";

let inScope: EditExample[];
let outOfScope: EditExample[];

beforeAll(async () => {
  const gen = await SynthEdit.create({ res: 48 });
  inScope = await handwrittenExamples(gen);
  outOfScope = await handwrittenUnsupported(gen);
}, 120_000);

describe("the hand-written test sets", () => {
  it("builds every line into an example whose target makes the edit asked for", () => {
    expect(inScope.length).toBeGreaterThanOrEqual(300);
    const known = new Set(expressiveCatalogue());
    for (const ex of inScope) {
      expect(known.has(ex.expressive), `${ex.id}: ${ex.expressive}`).toBe(true);
      let changed = 0;
      for (let i = 0; i < ex.input.data.length; i++) if (Math.abs(ex.input.data[i] - ex.target.data[i]) > 1e-6) changed++;
      expect(changed, `${ex.id} (${ex.op}) changes nothing`).toBeGreaterThan(0);
      if (ex.kind === "local")
        expect(
          ex.mask.some((m) => m === 1),
          ex.id,
        ).toBe(true);
    }
    // Every operation and ambiguity family the generator has is asked for at least 8 times.
    const count = (key: (ex: EditExample) => string | null) => {
      const n = new Map<string, number>();
      for (const ex of inScope) {
        const k = key(ex);
        if (k) n.set(k, (n.get(k) ?? 0) + 1);
      }
      return n;
    };
    const ops = count((ex) => (ex.ambiguity ? null : ex.op));
    expect(ops.size).toBe(27);
    for (const [op, n] of ops) expect(n, op).toBeGreaterThanOrEqual(8);
    const families = count((ex) => ex.ambiguity);
    expect([...families.keys()].sort()).toEqual(["biggest", "enhance", "fix-colour", "fix-lighting", "odd-colour", "odd-shape", "smallest"]);
  });

  it("asks the out-of-scope requests of images they leave unchanged, absent objects truly absent", () => {
    expect(outOfScope.length).toBeGreaterThanOrEqual(120);
    for (const ex of outOfScope) {
      expect(ex.target).toBe(ex.input);
      const absent = /^unsupported: there is no (\w+) (\w+)$/.exec(ex.expressive);
      if (!absent) {
        expect(ex.expressive).toBe("unsupported request");
        continue;
      }
      expect(ex.source.type).toBe("scene");
      if (ex.source.type === "scene")
        expect(
          ex.source.objects.some((o) => o.color === absent[1] && o.shape === absent[2]),
          ex.id,
        ).toBe(false);
    }
  });
});
