import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { EditExample } from "../src/data/example.js";
import { COLOR_NAMES } from "../src/data/scene/objects.js";
import { SPLIT_SEED_BASE, SPLITS } from "../src/data/splits.js";
import { SynthEdit } from "../src/data/synthedit.js";
import { InvalidArgumentError } from "../src/errors.js";
import { toUint8 } from "../src/image/raster.js";

let gen: SynthEdit;
let gen64: SynthEdit;
/** A sample of training examples at 64x64 shared by the property tests below (synthedit-2, and the same at synthedit-1). */
let sample: EditExample[];
let sampleV1: EditExample[];

beforeAll(async () => {
  gen = await SynthEdit.create({ res: 128, generator: "synthedit-1" });
  gen64 = await SynthEdit.create({ res: 64 });
  const gen64v1 = await SynthEdit.create({ res: 64, generator: "synthedit-1" });
  sample = [];
  sampleV1 = [];
  for (let i = 0; i < 1500; i++) {
    sample.push(await gen64.example("train", i));
    sampleV1.push(await gen64v1.example("train", i));
  }
});

/** The example's bytes and metadata; `request`, which synthedit-1 examples gained later as data beside their words, is left out. */
function digest(ex: EditExample): string {
  const { input, target, mask, request: _request, ...meta } = ex;
  return createHash("sha256").update(JSON.stringify(meta)).update(toUint8(input)).update(toUint8(target)).update(mask).digest("hex");
}

describe("SynthEdit", () => {
  it("gives identical bytes for the same split and index, from separate generators", async () => {
    const other = await SynthEdit.create({ res: 128, generator: "synthedit-1" });
    for (const i of [0, 1, 2, 17, 400]) expect(digest(await other.example("test", i))).toBe(digest(await gen.example("test", i)));
    expect(digest(await gen.example("test", 0))).not.toBe(digest(await gen.example("test", 1)));
  });

  it("reproduces the fixed test split bit for bit (synthedit-1)", async () => {
    const h = createHash("sha256");
    for (let i = 0; i < 12; i++) h.update(digest(await gen.example("test", i)));
    expect(h.digest("hex")).toBe(FIXED_TEST_DIGEST);
  });

  it("keeps splits disjoint: by seed, and by photo package", async () => {
    const seeds = new Map<number, string>();
    for (const split of SPLITS) {
      for (const i of [0, 1, 999_999_999]) {
        const s = SPLIT_SEED_BASE[split] + i;
        expect(seeds.has(s)).toBe(false);
        seeds.set(s, split);
      }
    }
    const packagesOf = (split: (typeof SPLITS)[number]) => new Set(gen.photos.photos(split).map((p) => p.package));
    const [train, val, test] = SPLITS.map(packagesOf);
    for (const p of test) {
      expect(train.has(p)).toBe(false);
      expect(val.has(p)).toBe(false);
    }
    for (const p of val) expect(train.has(p)).toBe(false);
    for (let i = 0; i < 60; i++) {
      const ex = await gen64.example("test", i);
      const crop = ex.source.type === "photo" ? ex.source.crop : ex.source.background.type === "photo" ? ex.source.background.crop : null;
      if (crop) expect(test.has(crop.photo.split("/")[0])).toBe(true);
    }
  });

  it("covers all three kinds of edit and a deliberate share of ambiguous ones", () => {
    const kinds = new Map<string, number>();
    for (const ex of sample) kinds.set(ex.kind, (kinds.get(ex.kind) ?? 0) + 1);
    for (const k of ["photoshop", "global", "local"]) expect(kinds.get(k)! / sample.length).toBeGreaterThan(0.25);
    const ops = new Set(sample.map((e) => e.op));
    for (const op of [
      "brightness",
      "contrast",
      "saturation",
      "hue",
      "grayscale",
      "sepia",
      "invert",
      "blur",
      "sharpen",
      "vignette",
      "tint",
      "flip-horizontal",
      "rotate-90",
      "fix-underexposure",
      "fix-overexposure",
      "remove-cast",
      "boost-dull",
      "day-to-night",
      "recolour",
      "remove",
      "add",
      "move",
      "resize",
      "reshape",
    ])
      expect(ops).toContain(op);
    const ambiguous = sample.filter((e) => e.ambiguity !== null).length / sample.length;
    expect(ambiguous).toBeGreaterThan(0.2);
    expect(ambiguous).toBeLessThan(0.45);
  });

  it("has synthedit-1's images in synthedit-2, worded anew, a tenth of them as requests it cannot do", () => {
    const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));
    let unsupported = 0;
    for (let i = 0; i < sample.length; i++) {
      const [v2, v1] = [sample[i], sampleV1[i]];
      expect(same(v2.input.data, v1.input.data), v2.id).toBe(true);
      if (v2.op === "unsupported") {
        unsupported++;
        expect(v2.expressive).toMatch(/^unsupported(: there is no \w+ \w+| request)$/);
        expect(same(v2.target.data, v2.input.data), v2.id).toBe(true);
        expect(v2.mask.every((m) => m === 0)).toBe(true);
      } else {
        expect([v2.op, v2.expressive], v2.id).toEqual([v1.op, v1.expressive]);
        expect(same(v2.target.data, v1.target.data), v2.id).toBe(true);
      }
    }
    expect(unsupported / sample.length).toBeGreaterThan(0.08);
    expect(unsupported / sample.length).toBeLessThan(0.16);
  });

  it("changes only the pixels its mask allows, and changes something", () => {
    for (const ex of sampleV1) {
      expect(ex.mask.length).toBe(64 * 64);
      let inside = 0;
      let outside = 0;
      for (let p = 0; p < ex.mask.length; p++) {
        let d = 0;
        for (let c = 0; c < 3; c++) d = Math.max(d, Math.abs(ex.input.data[p * 3 + c] - ex.target.data[p * 3 + c]));
        if (ex.mask[p] === 0) outside = Math.max(outside, d);
        else inside += d;
      }
      expect(outside, `${ex.id} (${ex.op}) changed pixels outside its mask`).toBe(0);
      expect(inside, `${ex.id} (${ex.op}) changed nothing`).toBeGreaterThan(0);
      if (ex.kind === "local") expect(ex.mask.reduce((a, b) => a + b, 0)).toBeLessThan(ex.mask.length / 2);
    }
  });

  it("gives every ambiguous instruction at least two images on which it means different edits", () => {
    // The same words (up to case, politeness and the colour asked for) must pick out different
    // corrections (global) or different objects (local) on different images.
    const colours = new RegExp(`\\b(${COLOR_NAMES.join("|")})\\b`, "g");
    const norm = (s: string) =>
      s
        .toLowerCase()
        .replace(/please/g, "")
        .replace(/[?!.]/g, "")
        .replace(colours, "<colour>")
        .replace(/\s+/g, " ")
        .trim();
    const meaning = (ex: EditExample) => (ex.kind === "local" ? `${ex.op} the ${ex.params.object}` : ex.expressive);
    const byInstruction = new Map<string, Set<string>>();
    for (const ex of sampleV1.filter((e) => e.ambiguity !== null)) {
      const key = `${ex.ambiguity}|${norm(ex.instruction)}`;
      if (!byInstruction.has(key)) byInstruction.set(key, new Set());
      byInstruction.get(key)!.add(meaning(ex));
    }
    for (const ex of sampleV1.filter((e) => e.ambiguity !== null)) {
      const meanings = byInstruction.get(`${ex.ambiguity}|${norm(ex.instruction)}`)!;
      expect(meanings.size, `"${ex.instruction}" (${ex.ambiguity}) only ever means "${[...meanings][0]}"`).toBeGreaterThanOrEqual(2);
    }
    const families = new Set(sample.map((e) => e.ambiguity).filter((a) => a !== null));
    expect([...families].sort()).toEqual(["biggest", "enhance", "fix-colour", "fix-lighting", "odd-colour", "odd-shape", "smallest"]);
  });

  it("keeps expressive instructions short and plain instructions non-empty", () => {
    for (const ex of sample) {
      expect(ex.expressive.split(/\s+/).length).toBeLessThanOrEqual(16);
      expect(ex.expressive.length).toBeLessThan(80);
      expect(ex.instruction.trim().length).toBeGreaterThan(3);
      expect(ex.instruction).not.toMatch(/\{|\}|\s\s/);
    }
  });

  it("works at 64x64 and refuses a resolution out of range", async () => {
    const ex = sample[0];
    expect([ex.input.width, ex.input.height, ex.target.width]).toEqual([64, 64, 64]);
    await expect(SynthEdit.create({ res: 8 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(SynthEdit.create({ res: 100.5 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

/** sha256 over the digests of test examples 0-11: changes only when GENERATOR_VERSION must change. */
const FIXED_TEST_DIGEST = "0ba5ab223425a996fc1d837a175437b449a2576916b8d0348fca1ce06ca43e8e";
