import { z } from "zod";
import { DataFormatError } from "../errors.js";

/**
 * Byte-level BPE, the same encoding as train/mgie_train/tokenizer.py: UTF-8 bytes (ids 0-255)
 * merged by learned pairs (id 256 + rank), then BOS, EOS, PAD, SEP and the [IMG] tokens. Text is
 * split before each space (the space joins the word after it). Any string encodes without loss.
 */
const TokenizerSchema = z.object({
  format: z.literal("mgie-bpe-1"),
  merges: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()])),
  num_img_tokens: z.number().int().positive(),
  prompt: z.string(),
});

const WORDS = / ?[^ ]+| +/g;

export class Tokenizer {
  readonly bos: number;
  readonly eos: number;
  readonly pad: number;
  readonly sep: number;
  readonly img0: number;
  readonly vocabSize: number;
  private readonly ranks = new Map<number, number>();
  private readonly pieces: Uint8Array[] = [];
  private readonly cache = new Map<string, number[]>();
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder("utf-8");

  constructor(
    readonly merges: readonly (readonly [number, number])[],
    readonly numImgTokens: number,
    readonly prompt: string,
  ) {
    for (let i = 0; i < 256; i++) this.pieces.push(Uint8Array.of(i));
    merges.forEach(([a, b], i) => {
      if (a >= 256 + i || b >= 256 + i) throw new DataFormatError(`tokenizer merge ${i} refers to a token not yet defined (${a}, ${b})`);
      this.ranks.set(a * 65536 + b, i);
      const p = new Uint8Array(this.pieces[a].length + this.pieces[b].length);
      p.set(this.pieces[a]);
      p.set(this.pieces[b], this.pieces[a].length);
      this.pieces.push(p);
    });
    const base = 256 + merges.length;
    this.bos = base;
    this.eos = base + 1;
    this.pad = base + 2;
    this.sep = base + 3;
    this.img0 = base + 4;
    this.vocabSize = this.img0 + numImgTokens;
  }

  static fromJSON(json: unknown, label = "tokenizer.json"): Tokenizer {
    const parsed = TokenizerSchema.safeParse(json);
    if (!parsed.success) throw new DataFormatError(`${label} is not an mgie tokenizer: ${parsed.error.issues[0]?.message ?? "invalid"}`);
    return new Tokenizer(parsed.data.merges, parsed.data.num_img_tokens, parsed.data.prompt);
  }

  private word(bytes: Uint8Array, key: string): number[] {
    const hit = this.cache.get(key);
    if (hit) return hit;
    let s = Array.from(bytes);
    while (s.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < s.length - 1; i++) {
        const r = this.ranks.get(s[i] * 65536 + s[i + 1]);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const [a, b] = [s[best], s[best + 1]];
      const merged: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i < s.length - 1 && s[i] === a && s[i + 1] === b) {
          merged.push(256 + bestRank);
          i++;
        } else merged.push(s[i]);
      }
      s = merged;
    }
    if (this.cache.size < 50_000) this.cache.set(key, s);
    return s;
  }

  encode(text: string): number[] {
    const out: number[] = [];
    for (const w of text.match(WORDS) ?? []) out.push(...this.word(this.encoder.encode(w), w));
    return out;
  }

  /** Text of the ids; special tokens are skipped, invalid UTF-8 becomes U+FFFD. */
  decode(ids: readonly number[]): string {
    const parts = ids.filter((i) => i < this.pieces.length).map((i) => this.pieces[i]);
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    return this.decoder.decode(all);
  }

  /** The text after the image: the prompt, the instruction, SEP (BOS and image features come first). */
  promptIds(instruction: string): number[] {
    return [...this.encode(this.prompt + instruction.trim()), this.sep];
  }

  imgTokens(): number[] {
    return Array.from({ length: this.numImgTokens }, (_, k) => this.img0 + k);
  }
}
