import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Rng } from "../src/core/rng.js";
import { WORDNET_FILE, wordnet } from "../src/data/language/lexicon.js";
import { phrase } from "../src/data/language/phrase.js";
import type { EditRequest, ObjectLooks } from "../src/data/language/request.js";
import { Wording, wordingSplit } from "../src/data/language/wording.js";

const scene: ObjectLooks[] = [
  { size: "small", color: "red", shape: "circle" },
  { size: "large", color: "blue", shape: "star" },
  { size: "small", color: "green", shape: "square" },
];

/** One request of every operation and family the generator words. */
const REQUESTS: EditRequest[] = [
  { op: "brightness", increase: true, percent: 20 },
  { op: "brightness", increase: false, percent: 60 },
  { op: "contrast", increase: true, percent: 40 },
  { op: "saturation", increase: false, percent: 20 },
  { op: "hue", degrees: 180 },
  { op: "grayscale" },
  { op: "sepia" },
  { op: "invert" },
  { op: "sharpen" },
  { op: "vignette" },
  { op: "blur", strong: true },
  { op: "blur", strong: false },
  { op: "tint", color: "purple" },
  { op: "flip-horizontal" },
  { op: "flip-vertical" },
  { op: "rotate-90" },
  { op: "rotate-180" },
  { op: "rotate-270" },
  { op: "fix-underexposure" },
  { op: "fix-overexposure" },
  { op: "boost-dull" },
  { op: "day-to-night" },
  { op: "remove-cast", cast: "green" },
  { op: "fix-underexposure", family: "fix-lighting" },
  { op: "remove-cast", cast: "blue", family: "fix-colour" },
  { op: "boost-dull", family: "enhance" },
  { op: "recolour", object: scene[0], color: "yellow", scene },
  { op: "remove", object: scene[1], scene },
  { op: "add", object: { size: "large", color: "pink", shape: "hexagon" }, position: "top left", scene },
  { op: "move", object: scene[2], direction: "up", scene },
  { op: "resize", object: scene[0], bigger: true, scene },
  { op: "reshape", object: scene[1], shape: "triangle", scene },
  { op: "recolour", object: scene[0], color: "white", family: "odd-shape", scene },
  { op: "recolour", object: scene[0], color: "blue", family: "odd-colour", scene },
  { op: "remove", object: scene[1], family: "biggest", scene },
  { op: "remove", object: scene[0], family: "smallest", scene },
  { op: "unsupported", reason: "repertoire", scene: null },
  { op: "unsupported", reason: "absent", scene, object: { color: "green", shape: "star" }, asked: "recolour" },
];

function label(r: EditRequest): string {
  return `${r.op}${"family" in r && r.family ? `/${r.family}` : ""}`;
}

describe("the language side of SynthEdit", () => {
  it("asks for every edit in hundreds of ways, deterministically", () => {
    for (const r of REQUESTS) {
      const texts = new Set<string>();
      for (let i = 0; i < 600; i++) texts.add(phrase(r, new Rng(i), "train").text.toLowerCase());
      const min = "family" in r && r.family ? 80 : 150;
      expect(texts.size, label(r)).toBeGreaterThanOrEqual(min);
      expect(phrase(r, new Rng(7), "test")).toEqual(phrase(r, new Rng(7), "test"));
      for (const t of texts) expect(t, label(r)).not.toMatch(/[{}~]|\s\s|^\s|\s$|undefined/);
    }
  });

  it("gives training sentences only train's words, and a test sentence words only test has", () => {
    const w = new Wording(new Rng(1), "train");
    const words = ["first", ...Array.from({ length: 60 }, (_, i) => `word ${i}`)];
    for (let i = 0; i < 500; i++) {
      const choice = w.pick(words);
      expect(choice === "first" || wordingSplit(choice) === "train").toBe(true);
    }
    expect(w.heldOut).toBe(false);
    const splits = new Set(words.slice(1).map(wordingSplit));
    expect([...splits].sort()).toEqual(["test", "train", "validation"]);
    for (const r of REQUESTS) {
      let heldOut = 0;
      for (let i = 0; i < 50; i++) heldOut += Number(phrase(r, new Rng(i), "test").heldOut);
      expect(heldOut / 50, label(r)).toBeGreaterThanOrEqual(0.9);
    }
  });

  it("holds each word choice out of training as a whole: a test-only frame never appears in training", () => {
    const train = new Set<string>();
    const test = new Set<string>();
    const r: EditRequest = { op: "grayscale" };
    for (let i = 0; i < 3000; i++)
      train.add(
        phrase(r, new Rng(i), "train")
          .text.toLowerCase()
          .replace(/[.!?:)]+$/, ""),
      );
    for (let i = 0; i < 300; i++)
      test.add(
        phrase(r, new Rng(i), "test")
          .text.toLowerCase()
          .replace(/[.!?:)]+$/, ""),
      );
    const overlap = [...test].filter((t) => train.has(t));
    expect(overlap.length / test.size).toBeLessThan(0.05);
  });

  it("reads WordNet's words from the derived file, with WordNet's licence beside it", () => {
    const words = wordnet();
    expect(words.slots.brighten).toContain("lighten");
    expect(Object.values(words.outOfScope.nouns).flat().length).toBeGreaterThan(200);
    for (const noun of ["circle", "star", "photo", "red"]) expect(Object.values(words.outOfScope.nouns).flat()).not.toContain(noun);
    expect(existsSync(WORDNET_FILE.replace("wordnet.json", "WORDNET-LICENSE"))).toBe(true);
  });
});

describe("the expressive catalogue", () => {
  it("holds every expressive instruction the generator gives, once", async () => {
    const { SynthEdit } = await import("../src/data/synthedit.js");
    const { expressiveCatalogue } = await import("../src/data/language/expressive.js");
    const catalogue = expressiveCatalogue();
    expect(new Set(catalogue).size).toBe(catalogue.length);
    const known = new Set(catalogue);
    const gen = await SynthEdit.create({ res: 32 });
    for (let i = 0; i < 800; i++) {
      const ex = await gen.example("train", i);
      expect(known.has(ex.expressive), ex.expressive).toBe(true);
    }
  });
});
