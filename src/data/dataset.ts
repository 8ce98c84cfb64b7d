import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { DataFormatError, InvalidArgumentError } from "../errors.js";
import { fromUint8, type RgbImage } from "../image/raster.js";
import type { EncodedExample } from "./encode.js";
import { expressiveCatalogue } from "./language/expressive.js";
import { npyHeader, parseNpy } from "./npy.js";
import type { ExampleSource } from "./pool.js";
import { MAX_SPLIT_SIZE, SPLITS, type Split } from "./splits.js";

/**
 * A SynthEdit dataset on disk (documented in docs/DATA.md):
 *   dataset.json             what was generated (generator version, split, range, resolution, shards)
 *   index.jsonl              one JSON object per example: instructions, kind, op, params, shard and row
 *   shards/NNNNN-input.npy   uint8 [n, res, res, 3]
 *   shards/NNNNN-target.npy  uint8 [n, res, res, 3]
 *   shards/NNNNN-mask.npy    uint8 [n, res, res], 1 where the edit may change pixels
 *   expressive.json          every expressive instruction the generator gives (what a trained model may say)
 * Plain NumPy files and JSON, so PyTorch code reads it with numpy alone.
 */
export const DATASET_FORMAT = "synthedit-dataset-1";
export const DEFAULT_SHARD_SIZE = 1024;

const DatasetMetaSchema = z.object({
  format: z.literal(DATASET_FORMAT),
  generator: z.string(),
  split: z.enum(SPLITS),
  start: z.number().int().nonnegative(),
  count: z.number().int().positive(),
  res: z.number().int().positive(),
  shardSize: z.number().int().positive(),
  photoManifestSha256: z.string(),
  shards: z.array(z.object({ name: z.string(), count: z.number().int().positive() })),
});
export type DatasetMeta = z.infer<typeof DatasetMetaSchema>;

/** One line of index.jsonl: everything about an example except its pixels. */
export type IndexEntry = EncodedExample["meta"] & { shard: string; row: number };

const IndexEntrySchema = z.looseObject({
  id: z.string(),
  index: z.number().int(),
  kind: z.enum(["photoshop", "global", "local"]),
  op: z.string(),
  instruction: z.string(),
  expressive: z.string(),
  ambiguous: z.boolean(),
  ambiguity: z.string().nullable(),
  shard: z.string(),
  row: z.number().int().nonnegative(),
});

export interface GenerateOptions {
  split: Split;
  count: number;
  start?: number;
  shardSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Generates examples start..start+count-1 of a split into `dir`, shard by shard, in index order. */
export async function writeDataset(source: ExampleSource, dir: string, options: GenerateOptions): Promise<DatasetMeta> {
  const start = options.start ?? 0;
  const shardSize = options.shardSize ?? DEFAULT_SHARD_SIZE;
  const { count, split } = options;
  if (!Number.isInteger(count) || count < 1) throw new InvalidArgumentError(`count must be a positive integer, got ${count}`);
  if (!Number.isInteger(start) || start < 0 || start + count > MAX_SPLIT_SIZE) {
    throw new InvalidArgumentError(`start must be an integer with start + count <= ${MAX_SPLIT_SIZE}, got ${start}`);
  }
  if (!Number.isInteger(shardSize) || shardSize < 1) throw new InvalidArgumentError(`shard size must be a positive integer, got ${shardSize}`);
  await mkdir(join(dir, "shards"), { recursive: true });
  const res = source.res;
  const shards: DatasetMeta["shards"] = [];
  const index: string[] = [];
  // Requests run ahead of the writer by up to `concurrency` examples, so workers stay busy.
  const inFlight: Promise<EncodedExample>[] = [];
  let requested = 0;
  const nextExample = (): Promise<EncodedExample> => {
    while (requested < count && inFlight.length < source.concurrency) inFlight.push(source.encoded(split, start + requested++));
    return inFlight.shift()!;
  };
  for (let s = 0; s * shardSize < count; s++) {
    const n = Math.min(shardSize, count - s * shardSize);
    const name = String(s).padStart(5, "0");
    const inputs = Buffer.alloc(n * res * res * 3);
    const targets = Buffer.alloc(n * res * res * 3);
    const masks = Buffer.alloc(n * res * res);
    for (let row = 0; row < n; row++) {
      const ex = await nextExample();
      inputs.set(ex.input, row * res * res * 3);
      targets.set(ex.target, row * res * res * 3);
      masks.set(ex.mask, row * res * res);
      const entry: IndexEntry = { ...ex.meta, shard: name, row };
      index.push(JSON.stringify(entry));
      options.onProgress?.(s * shardSize + row + 1, count);
    }
    await writeFile(join(dir, "shards", `${name}-input.npy`), Buffer.concat([npyHeader([n, res, res, 3]), inputs]));
    await writeFile(join(dir, "shards", `${name}-target.npy`), Buffer.concat([npyHeader([n, res, res, 3]), targets]));
    await writeFile(join(dir, "shards", `${name}-mask.npy`), Buffer.concat([npyHeader([n, res, res]), masks]));
    shards.push({ name, count: n });
  }
  const meta: DatasetMeta = {
    format: DATASET_FORMAT,
    generator: source.generator,
    split,
    start,
    count,
    res,
    shardSize,
    photoManifestSha256: createHash("sha256").update(JSON.stringify(source.photoManifest)).digest("hex"),
    shards,
  };
  await writeFile(join(dir, "index.jsonl"), `${index.join("\n")}\n`);
  await writeFile(join(dir, "expressive.json"), `${JSON.stringify(expressiveCatalogue())}\n`);
  await writeFile(join(dir, "dataset.json"), `${JSON.stringify(meta, null, 2)}\n`);
  return meta;
}

export interface StoredExample {
  entry: IndexEntry;
  input: RgbImage;
  target: RgbImage;
  mask: Uint8Array;
}

/** Reads a dataset written by writeDataset, checking its format and every file's size. */
export class SynthEditDataset {
  private readonly cache = new Map<string, { input: Uint8Array; target: Uint8Array; mask: Uint8Array }>();

  private constructor(
    readonly dir: string,
    readonly meta: DatasetMeta,
    readonly entries: readonly IndexEntry[],
  ) {}

  static async open(dir: string): Promise<SynthEditDataset> {
    let metaText: string;
    try {
      metaText = await readFile(join(dir, "dataset.json"), "utf8");
    } catch (cause) {
      throw new DataFormatError(`${dir} is not a SynthEdit dataset: no dataset.json (make one with 'mgie data generate')`, { cause });
    }
    let meta: DatasetMeta;
    try {
      meta = DatasetMetaSchema.parse(JSON.parse(metaText));
    } catch (cause) {
      throw new DataFormatError(`${join(dir, "dataset.json")} is not valid: ${(cause as Error).message}`, { cause });
    }
    const lines = (await readFile(join(dir, "index.jsonl"), "utf8")).split("\n").filter((l) => l.length > 0);
    if (lines.length !== meta.count) throw new DataFormatError(`${dir}/index.jsonl has ${lines.length} lines, dataset.json says ${meta.count}`);
    const entries = lines.map((l, i) => {
      try {
        return IndexEntrySchema.parse(JSON.parse(l)) as unknown as IndexEntry;
      } catch (cause) {
        throw new DataFormatError(`${dir}/index.jsonl line ${i + 1} is not a valid entry: ${(cause as Error).message}`, { cause });
      }
    });
    const files = new Set(await readdir(join(dir, "shards")).catch(() => [] as string[]));
    for (const s of meta.shards) {
      for (const part of ["input", "target", "mask"]) {
        if (!files.has(`${s.name}-${part}.npy`)) throw new DataFormatError(`${dir}/shards/${s.name}-${part}.npy is missing`);
      }
    }
    return new SynthEditDataset(dir, meta, entries);
  }

  get length(): number {
    return this.entries.length;
  }

  async get(i: number): Promise<StoredExample> {
    const entry = this.entries[i];
    if (!entry) throw new RangeError(`example ${i} is out of range (dataset has ${this.entries.length})`);
    const shard = await this.shard(entry.shard);
    const { res } = this.meta;
    const px = res * res;
    return {
      entry,
      input: fromUint8(res, res, shard.input.subarray(entry.row * px * 3, (entry.row + 1) * px * 3)),
      target: fromUint8(res, res, shard.target.subarray(entry.row * px * 3, (entry.row + 1) * px * 3)),
      mask: shard.mask.slice(entry.row * px, (entry.row + 1) * px),
    };
  }

  private async shard(name: string): Promise<{ input: Uint8Array; target: Uint8Array; mask: Uint8Array }> {
    const hit = this.cache.get(name);
    if (hit) return hit;
    const info = this.meta.shards.find((s) => s.name === name);
    if (!info) throw new DataFormatError(`index.jsonl names shard ${name}, which dataset.json does not list`);
    const { res } = this.meta;
    const load = async (part: string, shape: number[]): Promise<Uint8Array> => {
      const file = join(this.dir, "shards", `${name}-${part}.npy`);
      const parsed = parseNpy(await readFile(file), file);
      if (parsed.shape.join(",") !== shape.join(",")) {
        throw new DataFormatError(`${file} has shape (${parsed.shape.join(", ")}), expected (${shape.join(", ")})`);
      }
      return parsed.data;
    };
    const loaded = {
      input: await load("input", [info.count, res, res, 3]),
      target: await load("target", [info.count, res, res, 3]),
      mask: await load("mask", [info.count, res, res]),
    };
    this.cache.clear();
    this.cache.set(name, loaded);
    return loaded;
  }
}
