// The fixtures in test/fixtures/minilm/ (states.json, states.f32) hold PyTorch's token states and sentence embeddings
// of the encoder in models/minilm (train/mgie_train/minilm, the same int8 weights); they are written by
// `cd train && /usr/bin/python3 -m mgie_train.minilm.fixtures`.
import { access, copyFile, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MiniLM } from "../src/models/minilm.js";
import { ModelDirError } from "../src/models/modelDir.js";
import { DEFAULT_MINILM_DIR, loadMiniLM } from "../src/platform/node.js";

const FIXTURES = join(import.meta.dirname, "fixtures", "minilm");
const TOLERANCE = 1e-4;

interface StatesFixture {
  dim: number;
  file: string;
  sentences: { text: string; ids: number[] }[];
}

let encoder: MiniLM;
let fixture: StatesFixture;
/** PyTorch's states of each fixture sentence [tokens, dim], then its sentence embedding [dim]. */
let expected: { states: Float32Array; embedding: Float32Array }[];

beforeAll(async () => {
  await access(join(DEFAULT_MINILM_DIR, "manifest.json")).catch(() => {
    throw new Error(`${DEFAULT_MINILM_DIR} is missing: build it with 'cd train && /usr/bin/python3 -m mgie_train.minilm.build'`);
  });
  encoder = await loadMiniLM(DEFAULT_MINILM_DIR, { threads: 1 });
  fixture = JSON.parse(await readFile(join(FIXTURES, "states.json"), "utf8"));
  const bytes = await readFile(join(FIXTURES, fixture.file));
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  let offset = 0;
  const states = fixture.sentences.map((s) => {
    const a = data.subarray(offset, offset + s.ids.length * fixture.dim);
    offset += a.length;
    return a;
  });
  expected = states.map((s, i) => ({ states: s, embedding: data.subarray(offset + i * fixture.dim, offset + (i + 1) * fixture.dim) }));
  expect(offset + fixture.sentences.length * fixture.dim).toBe(data.length);
});

afterAll(async () => {
  await encoder?.release();
});

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

function cosine(a: Float32Array, b: Float32Array): number {
  return a.reduce((s, v, i) => s + v * b[i], 0);
}

describe("MiniLM", () => {
  it("computes PyTorch's token states, batched with padding", async () => {
    const texts = fixture.sentences.map((s) => s.text);
    const r = await encoder.encode(texts);
    expect(r.dim).toBe(fixture.dim);
    expect(r.tokens).toEqual(fixture.sentences.map((s) => s.ids.length));
    expect(r.length).toBe(Math.max(...r.tokens));
    expect(r.truncated).toEqual(texts.map(() => false));
    let worst = 0;
    fixture.sentences.forEach((s, i) => {
      expect(encoder.tokenizer.encode(s.text, encoder.maxTokens).ids).toEqual(s.ids);
      const rows = r.states.subarray(i * r.length * r.dim, (i * r.length + s.ids.length) * r.dim);
      worst = Math.max(worst, maxAbsDiff(rows, expected[i].states));
      // Past the text's last token: zeros.
      expect(r.states.subarray((i * r.length + s.ids.length) * r.dim, (i + 1) * r.length * r.dim).every((v) => v === 0)).toBe(true);
    });
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
  });

  it("encodes more texts than one batch holds, each as if alone", async () => {
    const texts = Array.from({ length: 70 }, (_, i) => fixture.sentences[i % fixture.sentences.length].text);
    const r = await encoder.encode(texts);
    for (const i of [0, 63, 64, 69]) {
      const s = i % fixture.sentences.length;
      const rows = r.states.subarray(i * r.length * r.dim, (i * r.length + r.tokens[i]) * r.dim);
      expect(maxAbsDiff(rows, expected[s].states)).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it("gives PyTorch's sentence embeddings, which place paraphrases closer than unrelated instructions", async () => {
    const embeddings = await Promise.all(fixture.sentences.map((s) => encoder.sentenceEmbedding(s.text)));
    embeddings.forEach((e, i) => {
      expect(maxAbsDiff(e, expected[i].embedding)).toBeLessThanOrEqual(TOLERANCE);
      expect(cosine(e, e)).toBeCloseTo(1, 5);
    });
    const [brighter, lighten, flip] = await Promise.all(["make it brighter", "lighten it up", "flip it upside down"].map((t) => encoder.sentenceEmbedding(t)));
    expect(cosine(brighter, lighten)).toBeGreaterThan(cosine(brighter, flip) + 0.1);
  });

  it("truncates a long text to max_tokens and encodes no text at all", async () => {
    const r = await encoder.encode(["make it brighter ".repeat(100)]);
    expect(r.tokens).toEqual([encoder.maxTokens]);
    expect(r.truncated).toEqual([true]);
    expect(await encoder.encode([])).toMatchObject({ tokens: [], length: 0, states: new Float32Array(0) });
  });

  it("refuses a missing folder or a changed file, saying what to do", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mgie-minilm-"));
    try {
      await expect(loadMiniLM(join(dir, "nowhere"))).rejects.toThrow(/no manifest\.json\): build it with .*mgie_train\.minilm\.build/);
      const manifest = JSON.parse(await readFile(join(DEFAULT_MINILM_DIR, "manifest.json"), "utf8"));
      await writeFile(join(dir, "manifest.json"), JSON.stringify(manifest));
      for (const name of Object.keys(manifest.files)) {
        if (name !== "vocab.txt") await symlink(join(DEFAULT_MINILM_DIR, name), join(dir, name));
      }
      const vocab = await readFile(join(DEFAULT_MINILM_DIR, "vocab.txt"));
      vocab[vocab.length - 2] ^= 1;
      await writeFile(join(dir, "vocab.txt"), vocab);
      const changed = loadMiniLM(dir);
      await expect(changed).rejects.toBeInstanceOf(ModelDirError);
      await expect(changed).rejects.toThrow(/vocab\.txt does not match the sha256/);
      await copyFile(join(DEFAULT_MINILM_DIR, "vocab.txt"), join(dir, "vocab.txt"));
      await writeFile(join(dir, "manifest.json"), JSON.stringify({ ...manifest, format: "mgie-minilm-0" }));
      await expect(loadMiniLM(dir)).rejects.toThrow(/not a MiniLM manifest at format/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
