import { describe, expect, it } from "vitest";
import { Rng } from "../src/core/rng.js";
import { ExpressiveTrie } from "../src/models/expressiveTrie.js";
import { pickToken } from "../src/models/mllm.js";
import { Tokenizer } from "../src/models/tokenizer.js";
import { unsupportedReason } from "../src/pipeline/unsupported.js";

// A byte-level tokenizer with no merges: one token per byte.
const tok = Tokenizer.fromJSON({ format: "mgie-bpe-1", merges: [], num_img_tokens: 2, prompt: "p " }, "test");

describe("constrained decoding", () => {
  const texts = ["add a red tint", "add a blue tint", "apply a sepia tone"];
  const trie = new ExpressiveTrie(texts, tok);

  it("only ever follows one of the expressive instructions, whatever the logits say", () => {
    const rng = new Rng(4);
    for (let run = 0; run < 50; run++) {
      const walk = trie.walk();
      const out: number[] = [];
      for (let step = 0; step < 40; step++) {
        const logits = Float32Array.from({ length: tok.vocabSize }, () => rng.gaussian() * 5);
        const allowed = [...walk.allowed(), ...(walk.canEnd() ? [tok.eos] : [])];
        const next = pickToken(logits, { temperature: run % 2 ? 1 : 0, topP: 0.9, rng }, allowed);
        expect(allowed).toContain(next);
        if (next === tok.eos) break;
        out.push(next);
        walk.step(next);
      }
      expect(texts).toContain(tok.decode(out));
    }
  });

  it("picks the highest allowed token greedily, the lower id on a tie", () => {
    const logits = Float32Array.from([5, 1, 3, 3]);
    expect(pickToken(logits, { temperature: 0, topP: 1, rng: new Rng(0) }, [1, 2, 3])).toBe(2);
    expect(pickToken(logits, { temperature: 0, topP: 1, rng: new Rng(0) })).toBe(0);
    expect(() => pickToken(logits, { temperature: 0, topP: 1, rng: new Rng(0) }, [])).toThrow(RangeError);
  });
});

describe("refusals", () => {
  it("reads the reason from a refusing expressive instruction, and nothing from an edit", () => {
    expect(unsupportedReason("unsupported request")).toBe("this is not an edit mgie can make");
    expect(unsupportedReason("unsupported: there is no green star")).toBe("there is no green star in the image");
    expect(unsupportedReason("add a red tint")).toBeNull();
  });
});
