import { z } from "zod";
import { i64, type OnnxBackend, type OnnxSession } from "./backend.js";
import { ModelDirError } from "./modelDir.js";
import type { ModelFiles } from "./modelFiles.js";
import { WordPieceTokenizer } from "./wordpiece.js";

const BUILD_COMMAND = "cd train && /usr/bin/python3 -m mgie_train.minilm.build";
const ONNX_FILE = "text_encoder.onnx";
const VOCAB_FILE = "vocab.txt";
/** Texts per run of the encoder: a longer list is encoded in batches of this many. */
const BATCH = 64;

const FileSchema = z.object({ bytes: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) });

export const MiniLMManifestSchema = z
  .object({
    format: z.literal("mgie-minilm-1"),
    model: z.string(),
    dim: z.number().int().positive(),
    layers: z.number().int().positive(),
    /** The most tokens a text is encoded to, [CLS] and [SEP] included; longer texts are truncated. */
    max_tokens: z.number().int().min(2),
    lowercase: z.literal(true),
    bert: z.object({ max_positions: z.number().int().positive() }),
    inputs: z.tuple([z.literal("input_ids"), z.literal("attention_mask")]),
    outputs: z.tuple([z.literal("states")]),
    // Plain file names of the folder: a path elsewhere is refused.
    files: z.record(z.string().regex(/^[^/\\]+$/), FileSchema),
    source: z.object({ package: z.string(), version: z.string(), wheel: z.string(), sha256: z.string() }),
  })
  .refine((m) => m.max_tokens <= m.bert.max_positions, { message: "max_tokens is beyond the encoder's positions" })
  .refine((m) => ONNX_FILE in m.files && VOCAB_FILE in m.files, { message: `files must list ${ONNX_FILE} and ${VOCAB_FILE}` });
export type MiniLMManifest = z.infer<typeof MiniLMManifestSchema>;

export interface MiniLMStates {
  /** [texts, length, dim]: each text's last-layer token states from its [CLS] on; zeros after its [SEP]. */
  states: Float32Array;
  /** How many tokens each text has, [CLS] and [SEP] included. */
  tokens: number[];
  /** Which texts had more tokens than max_tokens and were cut. */
  truncated: boolean[];
  /** Token positions per text in `states`: the most of `tokens` (0 for no texts). */
  length: number;
  dim: number;
}

/**
 * The frozen sentence encoder all-MiniLM-L6-v2 (int8 weights, as train/mgie_train/minilm/build.py writes it): WordPiece tokens -> contextual token
 * states (the last layer) and sentence embeddings (their mean, L2-normalised, as sentence-transformers
 * pools this model). The same function as train/mgie_train/minilm's PyTorch encoder (test/minilm.test.ts).
 */
export class MiniLM {
  private constructor(
    readonly manifest: MiniLMManifest,
    readonly tokenizer: WordPieceTokenizer,
    private readonly session: OnnxSession,
  ) {}

  get dim(): number {
    return this.manifest.dim;
  }

  get maxTokens(): number {
    return this.manifest.max_tokens;
  }

  /** Reads and checks a folder (manifest, every file's size and sha256) and opens the encoder's session. */
  static async open(files: ModelFiles, onnx: OnnxBackend): Promise<MiniLM> {
    const dir = files.location;
    const manifestPath = files.where("manifest.json");
    let raw: string;
    try {
      raw = await files.readText("manifest.json");
    } catch (cause) {
      throw new ModelDirError(`${dir} holds no MiniLM encoder (no manifest.json): build it with '${BUILD_COMMAND}'`, { cause });
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (cause) {
      throw new ModelDirError(`${manifestPath} is not valid JSON (${(cause as Error).message}): rebuild it with '${BUILD_COMMAND}'`, { cause });
    }
    const parsed = MiniLMManifestSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ModelDirError(
        `${manifestPath} is not a MiniLM manifest at ${issue?.path.join(".") || "(root)"}: ${issue?.message}; rebuild it with '${BUILD_COMMAND}'`,
      );
    }
    const manifest = parsed.data;
    const read = Object.fromEntries(
      await Promise.all(Object.entries(manifest.files).map(async ([name, f]) => [name, await files.readChecked(name, f.bytes, f.sha256, name)] as const)),
    );
    const tokenizer = new WordPieceTokenizer(new TextDecoder().decode(read[VOCAB_FILE]), files.where(VOCAB_FILE));
    const session = await onnx.createSession(read[ONNX_FILE], ONNX_FILE);
    return new MiniLM(manifest, tokenizer, session);
  }

  /** The token states of each text, encoded in batches padded to their longest text. */
  async encode(texts: readonly string[]): Promise<MiniLMStates> {
    const dim = this.dim;
    const encoded = texts.map((t) => this.tokenizer.encode(t, this.maxTokens));
    const tokens = encoded.map((e) => e.ids.length);
    const length = tokens.reduce((a, b) => Math.max(a, b), 0);
    const states = new Float32Array(texts.length * length * dim);
    for (let first = 0; first < texts.length; first += BATCH) {
      const batch = encoded.slice(first, first + BATCH).map((e) => e.ids);
      const longest = Math.max(...batch.map((ids) => ids.length));
      const ids = batch.flatMap((b) => [...b, ...new Array<number>(longest - b.length).fill(this.tokenizer.pad)]);
      const mask = batch.flatMap((b) => [...new Array<number>(b.length).fill(1), ...new Array<number>(longest - b.length).fill(0)]);
      const out = await this.session.run({ input_ids: i64(ids, [batch.length, longest]), attention_mask: i64(mask, [batch.length, longest]) });
      const want = [batch.length, longest, dim];
      if (out.states.dims.join() !== want.join()) {
        throw new ModelDirError(
          `${ONNX_FILE} gave states of shape [${out.states.dims}], not [${want}]: it does not match its manifest; rebuild with '${BUILD_COMMAND}'`,
        );
      }
      const batchStates = out.states.data;
      batch.forEach((b, i) => {
        // Only the text's own positions: the states of padding positions are of no use.
        states.set(batchStates.subarray(i * longest * dim, (i * longest + b.length) * dim), (first + i) * length * dim);
      });
    }
    return { states, tokens, truncated: encoded.map((e) => e.truncated), length, dim };
  }

  /** The sentence embedding of `text`: the mean of its token states, L2-normalised ([dim]). */
  async sentenceEmbedding(text: string): Promise<Float32Array> {
    const { states, tokens, dim } = await this.encode([text]);
    const mean = new Float64Array(dim);
    for (let t = 0; t < tokens[0]; t++) for (let d = 0; d < dim; d++) mean[d] += states[t * dim + d];
    const norm = Math.hypot(...mean) / tokens[0];
    return Float32Array.from(mean, (v) => v / tokens[0] / Math.max(norm, 1e-12));
  }

  /** Frees the ONNX Runtime session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}
