import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { MgieError } from "../errors.js";
import { type EncodedExample, encodeExample } from "./encode.js";
import type { PhotoManifest } from "./photos.js";
import type { Split } from "./splits.js";
import { type GeneratorVersion, SynthEdit } from "./synthedit.js";

/** Something that produces stored examples by split and index: one generator, or a pool of them. */
export interface ExampleSource {
  readonly res: number;
  readonly generator: GeneratorVersion;
  readonly photoManifest: PhotoManifest;
  /** How many examples are worth requesting at once. */
  readonly concurrency: number;
  encoded(split: Split, index: number): Promise<EncodedExample>;
  close(): Promise<void>;
}

/** Generates on the calling thread. */
export function singleThreadSource(gen: SynthEdit): ExampleSource {
  return {
    res: gen.res,
    generator: gen.generator,
    photoManifest: gen.photos.manifest,
    concurrency: 1,
    encoded: async (split, index) => encodeExample(await gen.example(split, index)),
    close: async () => {},
  };
}

/**
 * SynthEdit on several worker threads (one per core by default). Each worker runs its own
 * generator; since an example depends only on its split and index, the bytes are the same
 * whatever the number of workers.
 */
export class SynthEditPool implements ExampleSource {
  private next = 0;
  private readonly pending = new Map<number, { resolve: (e: EncodedExample) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly gen: SynthEdit,
    private readonly workers: Worker[],
  ) {
    for (const w of workers) {
      w.on("message", (msg: { id: number; enc?: EncodedExample; error?: string }) => {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.enc) p.resolve(msg.enc);
        else p.reject(new MgieError("GENERATION_FAILED", `example generation failed in a worker: ${msg.error}`));
      });
      w.on("error", (err) => this.failAll(err));
    }
  }

  static async create(options: { res?: number; photoDir?: string; workers?: number; generator?: GeneratorVersion } = {}): Promise<SynthEditPool> {
    const gen = await SynthEdit.create(options);
    const n = Math.max(1, options.workers ?? availableParallelism());
    const workers = Array.from(
      { length: n },
      () => new Worker(new URL("./generateWorker.js", import.meta.url), { workerData: { res: gen.res, photoDir: options.photoDir, generator: gen.generator } }),
    );
    return new SynthEditPool(gen, workers);
  }

  get res(): number {
    return this.gen.res;
  }

  get generator(): GeneratorVersion {
    return this.gen.generator;
  }

  get photoManifest(): PhotoManifest {
    return this.gen.photos.manifest;
  }

  get concurrency(): number {
    return this.workers.length * 4;
  }

  encoded(split: Split, index: number): Promise<EncodedExample> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[id % this.workers.length].postMessage({ id, split, index });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.failAll(new Error("the generator pool was closed"));
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
