import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { prepareRender, type RenderInput, type RenderPass, type RenderResult, renderRows } from "../render/renderer.js";

const WORKER = new URL("./renderWorker.js", import.meta.url);
/** Below this many pixels, one thread renders faster than handing bands to others. */
const PARALLEL_PIXELS = 1_000_000;

/**
 * renderEdit on every core: the per-pixel pass (the part that grows with the photo) split into bands
 * of rows, one per thread, over shared memory; the main thread takes a band too. Workers start on
 * first use and do not keep the process alive.
 */
export class RenderPool {
  private workers: Worker[] | null = null;
  /** Renders run one at a time: each one uses every worker. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly threads = Math.min(availableParallelism(), 4)) {}

  render(input: RenderInput): Promise<RenderResult> {
    const next = this.last.then(() => this.renderNow(input));
    this.last = next.catch(() => {});
    return next;
  }

  private async renderNow(input: RenderInput): Promise<RenderResult> {
    const pixels = input.photo.width * input.photo.height;
    const workers = pixels >= PARALLEL_PIXELS ? this.start() : [];
    const shared = workers.length > 0;
    const prepared = prepareRender(
      shared ? { ...input, photo: { ...input.photo, data: toShared(input.photo.data) }, mask: input.mask && toShared(input.mask) } : input,
      (n) => (shared ? new Float32Array(new SharedArrayBuffer(4 * n)) : new Float32Array(n)),
    );
    if ("image" in prepared) return prepared;
    const bands = workers.length + 1;
    const edge = (k: number) => Math.round((k * prepared.height) / bands);
    const done = workers.map((w, k) => run(w, prepared, edge(k + 1), edge(k + 2)));
    renderRows(prepared, 0, edge(1));
    await Promise.all(done).finally(() => {
      // An idle worker never collects its garbage, so it would keep this render's shared buffers (the photo
      // and the result: 400 MB for 16 MP) alive for good; a fresh worker per large render costs a few ms.
      void this.close();
    });
    return { image: { width: prepared.width, height: prepared.height, data: prepared.out }, orientation: 0 };
  }

  /** Stops the workers (they are started again on the next large render). */
  async close(): Promise<void> {
    const workers = this.workers ?? [];
    this.workers = null;
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private start(): Worker[] {
    // The compiled worker is a .js file beside this one; run from TypeScript sources (tests), it is not there: one thread then.
    if (this.workers === null)
      this.workers = this.threads > 1 && existsSync(fileURLToPath(WORKER)) ? Array.from({ length: this.threads - 1 }, () => spawn()) : [];
    return this.workers;
  }
}

function spawn(): Worker {
  const w = new Worker(WORKER);
  w.unref();
  return w;
}

function run(worker: Worker, pass: RenderPass, y0: number, y1: number): Promise<void> {
  return new Promise((resolve, reject) => {
    // Referenced while it works, so the process waits for it; idle, it does not keep the process alive.
    const cleanup = () => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.unref();
    };
    const onMessage = (m: { ok: boolean; message?: string }) => {
      cleanup();
      if (m.ok) resolve();
      else reject(new Error(`the renderer's worker failed: ${m.message}`));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.ref();
    worker.postMessage({ pass, y0, y1 });
  });
}

function toShared(a: Float32Array): Float32Array {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const s = new Float32Array(new SharedArrayBuffer(a.byteLength));
  s.set(a);
  return s;
}
