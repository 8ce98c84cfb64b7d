// The fixture test/fixtures/minilm/wordpiece.json holds the ids that train/mgie_train/minilm/wordpiece.py gives these
// strings; it is written by `cd train && /usr/bin/python3 -m mgie_train.minilm.fixtures`.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DataFormatError } from "../src/errors.js";
import { basicWords, WordPieceTokenizer } from "../src/models/wordpiece.js";
import { DEFAULT_MINILM_DIR } from "../src/platform/node.js";

const FIXTURE = join(import.meta.dirname, "fixtures", "minilm", "wordpiece.json");

interface Case {
  text: string;
  max_tokens: number;
  ids: number[];
  truncated: boolean;
}

let tokenizer: WordPieceTokenizer;
beforeAll(async () => {
  const vocabPath = join(DEFAULT_MINILM_DIR, "vocab.txt");
  const vocab = await readFile(vocabPath, "utf8").catch(() => {
    throw new Error(`${vocabPath} is missing: build models/minilm with 'cd train && /usr/bin/python3 -m mgie_train.minilm.build'`);
  });
  tokenizer = new WordPieceTokenizer(vocab);
});

describe("WordPieceTokenizer", () => {
  it("gives the Python tokenizer's ids for every tricky string of the fixture", async () => {
    const { cases } = JSON.parse(await readFile(FIXTURE, "utf8")) as { cases: Case[] };
    expect(cases.length).toBeGreaterThanOrEqual(80);
    const got = cases.map((c) => ({ text: c.text, max_tokens: c.max_tokens, ...tokenizer.encode(c.text, c.max_tokens) }));
    expect(got).toEqual(cases);
  });

  it("frames the text as [CLS] ... [SEP] and truncates to maxTokens", () => {
    expect(tokenizer.encode("", 64)).toEqual({ ids: [tokenizer.cls, tokenizer.sep], truncated: false });
    const long = tokenizer.encode("make it brighter ".repeat(40), 16);
    expect(long.ids).toHaveLength(16);
    expect(long.ids.at(-1)).toBe(tokenizer.sep);
    expect(long.truncated).toBe(true);
    expect(() => tokenizer.encode("x", 1)).toThrow(RangeError);
  });

  it("splits words as BERT's basic tokenizer does", () => {
    expect(basicWords("Crème-Brûlée, 40%!")).toEqual(["creme", "-", "brulee", ",", "40", "%", "!"]);
    expect(basicWords("我喜欢 b&w\u200b")).toEqual(["我", "喜", "欢", "b", "&", "w"]);
  });

  it("cuts words into the longest pieces and gives [UNK] for what it cannot cut", () => {
    const small = new WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "a", "##a"].join("\n"));
    expect(small.tokenize("unaffable")).toEqual([4, 5, 6]);
    expect(small.tokenize("unaffablex")).toEqual([small.unk]);
    expect(small.tokenize("a".repeat(100))).toHaveLength(100);
    expect(small.tokenize("a".repeat(101))).toEqual([small.unk]);
  });

  it("refuses a vocabulary that is not BERT's", () => {
    expect(() => new WordPieceTokenizer("[PAD]\n[UNK]\n[CLS]\n")).toThrow(DataFormatError);
    expect(() => new WordPieceTokenizer("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[SEP]\n")).toThrow(/twice/);
  });
});
