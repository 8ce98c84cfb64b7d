import type { Rng } from "../core/rng.js";
import { InvalidArgumentError } from "../errors.js";
import { concatFloat32, f32, i64, type OnnxSession } from "./backend.js";
import type { ExpressiveTrie } from "./expressiveTrie.js";
import type { MiniLM } from "./minilm.js";
import type { Manifest } from "./modelDir.js";
import type { Tokenizer } from "./tokenizer.js";

/** How a model with an instruction encoder reads the instruction: the shared MiniLM, then its own projection. */
export interface InstructionInput {
  encoder: MiniLM;
  /** instruction.onnx: MiniLM's states [1,T,dim] -> the LM's prompt embeddings [1,T,lm dim]. */
  projection: OnnxSession;
  /** The most MiniLM tokens the model was trained to read ([CLS] and [SEP] included). */
  maxTokens: number;
}

export interface DecodeOptions {
  /** 0 (default) decodes greedily; above 0 samples with this temperature. */
  temperature: number;
  /** Nucleus sampling: keep the smallest set of tokens whose probability reaches topP. */
  topP: number;
  rng: Rng;
}

export interface Imagination {
  /** The expressive instruction's tokens and text. */
  ids: number[];
  text: string;
  /** The geometric mean of the probabilities the LM gave the tokens it chose, end included (0-1]. */
  confidence: number;
  /** [N, dim] hidden states of the positions that predict [IMG0..IMG(N-1)]. */
  states: Float32Array;
  /** [P, dim] the image tokens the LM was given (the prefix after BOS); null for a text-only LM. */
  cells: Float32Array | null;
}

/**
 * The multimodal LM at inference: image prefix, prompt, then the expressive instruction decoded
 * token by token with a KV cache, then the [IMG] tokens fed in to collect the visual imagination.
 */
export class Mllm {
  constructor(
    private readonly cfg: NonNullable<Manifest["mllm"]>,
    private readonly tok: Tokenizer,
    private readonly sessions: { prefix?: OnnxSession; embed: OnnxSession; lm: OnnxSession },
    /** The instruction encoder (null: a model that reads the instruction as BPE tokens). */
    private readonly instruction: InstructionInput | null = null,
    /** The expressive instructions decoding may give (null: unconstrained). */
    private readonly trie: ExpressiveTrie | null = null,
  ) {}

  /** The longest prompt (in tokens) that still leaves room for the expressive instruction and [IMG] tokens. */
  get maxPromptTokens(): number {
    return this.cfg.max_len - this.cfg.num_prefix - this.cfg.max_new_tokens - this.cfg.num_img_tokens;
  }

  /** The prompt as embeddings: the prompt's tokens, the instruction (MiniLM's states projected, or BPE tokens), SEP. */
  private async promptEmbeds(instruction: string): Promise<Float32Array> {
    if (!this.instruction) return this.embed(this.checkPrompt(instruction));
    const { encoder, projection } = this.instruction;
    const read = await encoder.encode([instruction.trim()]);
    // The model reads MiniLM's word pieces, not BPE tokens: their count is the limit (a misspelt instruction is
    // many BPE tokens but few word pieces). Cut short, it would be some other instruction.
    if (read.truncated[0]) {
      throw new InvalidArgumentError(`the instruction is longer than the ${encoder.maxTokens} word pieces this model reads: shorten it`, "instruction");
    }
    const t = read.tokens[0];
    const states = read.states.subarray(0, t * read.dim);
    const projected = (await projection.run({ states: f32(states, [1, t, read.dim]) })).embeds.data;
    return concatFloat32(await this.embed(this.tok.encode(this.tok.prompt)), projected, await this.embed([this.tok.sep]));
  }

  private async embed(ids: number[]): Promise<Float32Array> {
    return (await this.sessions.embed.run({ ids: i64(ids, [1, ids.length]) })).embeds.data;
  }

  private async prefixEmbeds(image: Float32Array | null, res: number): Promise<Float32Array> {
    if (!this.cfg.vision) return this.embed([this.tok.bos]);
    if (!image || !this.sessions.prefix) throw new InvalidArgumentError("this model needs the image");
    return (await this.sessions.prefix.run({ image: f32(image, [1, 3, res, res]) })).embeds.data;
  }

  /** The image tokens of a prefix: everything after BOS (null for a text-only LM). */
  private imageCells(prefix: Float32Array): Float32Array | null {
    return this.cfg.vision ? prefix.slice(this.cfg.dim) : null;
  }

  /** The prompt's tokens; an InvalidArgumentError when they leave no room for the expressive instruction. */
  checkPrompt(instruction: string): number[] {
    const prompt = this.tok.promptIds(instruction);
    if (prompt.length > this.maxPromptTokens) {
      throw new InvalidArgumentError(
        `the instruction is ${prompt.length} tokens with the prompt; this model takes at most ${this.maxPromptTokens}: shorten it`,
      );
    }
    return prompt;
  }

  /** With the expressive instruction given (no decoding): one pass over prefix, prompt, expressive
   * instruction and [IMG0..IMG(N-2)] yields the states of the positions that predict the [IMG] tokens. */
  async teacherForce(image: Float32Array | null, res: number, instruction: string, expressive: string): Promise<Imagination> {
    const { dim, layers, heads, head_dim: hd, num_img_tokens: n, max_new_tokens: cap } = this.cfg;
    const ids = this.tok.encode(expressive.trim());
    if (ids.length > cap) throw new InvalidArgumentError(`the expressive instruction is ${ids.length} tokens; at most ${cap}`);
    const prefix = await this.prefixEmbeds(image, res);
    const embeds = concatFloat32(prefix, await this.promptEmbeds(instruction), await this.embed([...ids, ...this.tok.imgTokens().slice(0, n - 1)]));
    const total = embeds.length / dim;
    const out = await this.sessions.lm.run({
      embeds: f32(embeds, [1, total, dim]),
      past_k: f32(new Float32Array(0), [layers, 1, heads, 0, hd]),
      past_v: f32(new Float32Array(0), [layers, 1, heads, 0, hd]),
    });
    return { ids, text: this.tok.decode(ids), confidence: 1, states: out.hidden.data.slice((total - n) * dim), cells: this.imageCells(prefix) };
  }

  /** image: [1,3,H,W] in [-1,1], or null for a text-only LM (LGIE). */
  async imagine(image: Float32Array | null, res: number, instruction: string, opts: DecodeOptions, useCache = true): Promise<Imagination> {
    const { dim, layers, heads, head_dim: hd, num_img_tokens: n, max_new_tokens: cap } = this.cfg;
    const prefix = await this.prefixEmbeds(image, res);
    const first = concatFloat32(prefix, await this.promptEmbeds(instruction));
    let past: { k: Float32Array; v: Float32Array; len: number } = { k: new Float32Array(0), v: new Float32Array(0), len: 0 };
    let seq: Float32Array = new Float32Array(0);
    const step = async (embeds: Float32Array): Promise<{ logits: Float32Array; hidden: Float32Array }> => {
      if (!useCache) {
        // Without the cache each call re-reads the whole sequence: the reference the cache is tested against.
        seq = concatFloat32(seq, embeds);
        past = { k: new Float32Array(0), v: new Float32Array(0), len: 0 };
        embeds = seq;
      }
      const t = embeds.length / dim;
      const out = await this.sessions.lm.run({
        embeds: f32(embeds, [1, t, dim]),
        past_k: f32(past.k, [layers, 1, heads, past.len, hd]),
        past_v: f32(past.v, [layers, 1, heads, past.len, hd]),
      });
      past = { k: out.present_k.data, v: out.present_v.data, len: past.len + t };
      return { logits: lastRow(out.logits.data, this.tok.vocabSize), hidden: lastRow(out.hidden.data, dim) };
    };
    let { logits, hidden } = await step(first);
    const ids: number[] = [];
    const walk = this.trie?.walk();
    let logProb = 0;
    let chosen = 0;
    while (ids.length < cap) {
      const allowed = walk ? [...walk.allowed(), ...(walk.canEnd() ? [this.tok.img0, this.tok.eos] : [])] : null;
      const next = pickToken(logits, opts, allowed);
      logProb += logSoftmaxAt(logits, next);
      chosen++;
      if (next === this.tok.img0 || next === this.tok.eos) break;
      ids.push(next);
      walk?.step(next);
      ({ logits, hidden } = await step(await this.embed([next])));
    }
    const states = new Float32Array(n * dim);
    states.set(hidden, 0);
    for (let j = 0; j < n - 1; j++) {
      ({ hidden } = await step(await this.embed([this.tok.img0 + j])));
      states.set(hidden, (j + 1) * dim);
    }
    return { ids, text: this.tok.decode(ids), confidence: Math.exp(logProb / Math.max(1, chosen)), states, cells: this.imageCells(prefix) };
  }
}

/** log softmax(logits)[i]. */
function logSoftmaxAt(logits: Float32Array, i: number): number {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let z = 0;
  for (const v of logits) z += Math.exp(v - max);
  return logits[i] - max - Math.log(z);
}

function lastRow(data: Float32Array, width: number): Float32Array {
  return data.slice(data.length - width);
}

/** Greedy argmax, or temperature + top-p sampling; only among `allowed` tokens when given (constrained decoding). */
export function pickToken(logits: Float32Array, opts: DecodeOptions, allowed: readonly number[] | null = null): number {
  const candidates = allowed ?? Array.from(logits.keys());
  if (candidates.length === 0) throw new RangeError("no token may come next");
  if (opts.temperature <= 0) {
    let best = candidates[0];
    for (const i of candidates) if (logits[i] > logits[best] || (logits[i] === logits[best] && i < best)) best = i;
    return best;
  }
  let max = -Infinity;
  for (const i of candidates) max = Math.max(max, logits[i]);
  const probs = candidates.map((i) => ({ i, p: Math.exp((logits[i] - max) / opts.temperature) }));
  const z = probs.reduce((s, e) => s + e.p, 0);
  for (const e of probs) e.p /= z;
  probs.sort((a, b) => b.p - a.p || a.i - b.i);
  const kept: typeof probs = [];
  let mass = 0;
  for (const e of probs) {
    kept.push(e);
    mass += e.p;
    if (mass >= opts.topP) break;
  }
  let r = opts.rng.next() * mass;
  for (const e of kept) {
    r -= e.p;
    if (r <= 0) return e.i;
  }
  return kept[kept.length - 1].i;
}
