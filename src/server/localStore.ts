import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { MgieError } from "../errors.js";
import type { EditProgress } from "../pipeline/editor.js";
import type { EditOutcome } from "./editJobs.js";
import {
  CANCELLED,
  DrainRate,
  type EditUpload,
  EXPIRED,
  isFinished,
  type JobEvent,
  type JobListener,
  JobListeners,
  type JobRecord,
  type JobStore,
  jobError,
  QueueClosedError,
  QueueFullError,
  type QueueStats,
  StorageFullError,
} from "./jobStore.js";
import type { EditParams } from "./schemas.js";

/** Runs one job's edit. */
export type LocalWork = (job: JobRecord, upload: EditUpload, context: { signal: AbortSignal; progress: (p: EditProgress) => void }) => Promise<EditOutcome>;

export interface LocalStoreOptions {
  /** Edits run at once. */
  concurrency: number;
  /** Edits that may wait; more are refused with QueueFullError. */
  maxQueued: number;
  /** How long a finished edit and its image stay available. */
  keepFinishedMs: number;
  /** Most bytes the uploads and results may take on disk; the oldest finished results go first. */
  diskBudgetBytes: number;
  /** A job that was running when the server died this many times fails instead of running again. */
  maxAttempts: number;
  /** Called once per finished job (metrics). */
  onFinished?: (job: JobRecord) => void;
  log?: (line: string) => void;
}

/** How long an evicted id still answers 410 (after that, 404). */
const TOMBSTONE_MS = 7 * 24 * 3600_000;
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Writes a file whole or not at all: a temporary file, flushed, then renamed over the name. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  const f = await open(tmp, "w");
  try {
    await f.writeFile(data);
    await f.sync();
  } finally {
    await f.close();
  }
  await rename(tmp, path);
}

const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * The single-machine job store: every job's record, upload and result live in a data directory,
 * each written atomically, and edits run in this process (`concurrency` at once). Opened again
 * after a crash or a stop, it resumes the queued jobs and re-runs those that were running (a job
 * that was running at `maxAttempts` deaths fails instead, so one bad input cannot crash it forever),
 * and serves finished results until they expire (retention, then the disk budget, oldest first);
 * an expired id answers EXPIRED for a week. Results are streamed from disk, never held in memory.
 *
 *   <dir>/jobs/<id>.json     the record (JobRecord)
 *   <dir>/uploads/<id>.image, <id>.mask
 *   <dir>/results/<id>.png
 *   <dir>/expired/<id>       tombstone of an evicted job (its content: when)
 *   <dir>/lock               the pid of the server using the directory
 */
export class LocalJobStore implements JobStore {
  readonly kind = "local";
  private readonly records = new Map<string, JobRecord>();
  private readonly waiting: string[] = [];
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void>; cancelled: boolean }>();
  /** Bytes on disk per job: its upload while it waits or runs, its result once done. */
  private readonly sizes = new Map<string, number>();
  private readonly tombstones = new Map<string, number>();
  private readonly listeners = new JobListeners();
  private readonly writes = new Map<string, Promise<void>>();
  private readonly drain = new DrainRate();
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly work: LocalWork,
    readonly options: LocalStoreOptions,
  ) {
    for (const key of ["concurrency", "maxQueued", "maxAttempts"] as const) {
      if (!Number.isInteger(options[key]) || options[key] < 1) throw new RangeError(`${key} must be a whole number of at least 1, got ${options[key]}`);
    }
  }

  /** Opens (or creates) the data directory, takes its lock, and resumes its unfinished jobs. */
  static async open(dir: string, work: LocalWork, options: LocalStoreOptions): Promise<LocalJobStore> {
    const store = new LocalJobStore(dir, work, options);
    await store.load();
    return store;
  }

  private path(kind: "jobs" | "uploads" | "results" | "expired", name: string): string {
    return join(this.dir, kind, name);
  }

  private async load(): Promise<void> {
    try {
      for (const sub of ["jobs", "uploads", "results", "expired"]) await mkdir(join(this.dir, sub), { recursive: true });
    } catch (cause) {
      throw new MgieError("DATA_DIR", `cannot use the data directory '${this.dir}': ${(cause as Error).message}; give a writable --data-dir`, { cause });
    }
    await this.lock();
    const now = Date.now();
    for (const name of await readdir(this.path("expired", ""))) {
      const at = Number(await readFile(this.path("expired", name), "utf8").catch(() => "0"));
      if (now - at > TOMBSTONE_MS) await rm(this.path("expired", name), { force: true });
      else this.tombstones.set(name, at);
    }
    const unfinished: JobRecord[] = [];
    for (const name of await readdir(this.path("jobs", ""))) {
      if (name.endsWith(".tmp")) {
        await rm(this.path("jobs", name), { force: true }); // a write the crash cut short: the old record stands
        continue;
      }
      const id = name.replace(/\.json$/, "");
      if (!ID.test(id)) continue;
      let job: JobRecord;
      try {
        job = JSON.parse(await readFile(this.path("jobs", name), "utf8")) as JobRecord;
      } catch (err) {
        this.options.log?.(`skipping unreadable job record ${name}: ${(err as Error).message}`);
        continue;
      }
      this.records.set(id, job);
      if (isFinished(job)) {
        this.sizes.set(id, await fileSize(this.path("results", `${id}.png`)));
      } else {
        this.sizes.set(id, (await fileSize(this.path("uploads", `${id}.image`))) + (await fileSize(this.path("uploads", `${id}.mask`))));
        unfinished.push(job);
      }
    }
    for (const dir of ["uploads", "results"] as const) {
      for (const name of await readdir(this.path(dir, ""))) {
        const id = name.split(".")[0];
        if (name.endsWith(".tmp") || !this.records.has(id)) await rm(this.path(dir, name), { force: true });
      }
    }
    // The one that was running first (it started before the others), then the queue in order.
    unfinished.sort((a, b) => (a.status === b.status ? a.createdAt - b.createdAt : a.status === "running" ? -1 : 1));
    for (const job of unfinished) {
      if (job.status === "running" && job.attempts >= this.options.maxAttempts) {
        const message = `the server stopped ${job.attempts} times while running this edit; it is not tried again`;
        await this.finish(job, { error: { code: "ABANDONED", message } });
        continue;
      }
      if (job.status === "running") await this.update(job, { status: "queued", progress: undefined });
      this.waiting.push(job.id);
    }
    this.finished.push(
      ...[...this.records.values()]
        .filter(isFinished)
        .sort((a, b) => a.finishedAt! - b.finishedAt!)
        .map((j) => j.id),
    );
    await this.evict();
    this.sweeper = setInterval(() => void this.evict(), Math.min(60_000, Math.max(1000, this.options.keepFinishedMs / 4)));
    this.sweeper.unref();
    this.pump();
  }

  /** Finished job ids, oldest first, for eviction. */
  private readonly finished: string[] = [];

  private async lock(): Promise<void> {
    const file = join(this.dir, "lock");
    const old = Number(await readFile(file, "utf8").catch(() => "0"));
    if (old > 0 && pidAlive(old)) {
      throw new MgieError("DATA_DIR_IN_USE", `the data directory '${this.dir}' is in use by process ${old}: stop it, or give this server another --data-dir`);
    }
    await writeFileAtomic(file, String(process.pid));
  }

  async ensureCapacity(): Promise<void> {
    if (this.closed) throw new QueueClosedError();
    if (this.waiting.length >= this.options.maxQueued) throw new QueueFullError(this.retryAfterSeconds(), this.options.maxQueued);
  }

  private retryAfterSeconds(): number {
    return this.drain.retryAfterSeconds();
  }

  async submit(params: Required<EditParams>, upload: EditUpload): Promise<JobRecord> {
    await this.ensureCapacity();
    const bytes = upload.image.byteLength + (upload.mask?.byteLength ?? 0);
    await this.makeRoom(bytes);
    const job: JobRecord = { id: randomUUID(), status: "queued", params, hasMask: upload.mask !== undefined, createdAt: Date.now(), attempts: 0 };
    await writeFileAtomic(this.path("uploads", `${job.id}.image`), upload.image);
    if (upload.mask) await writeFileAtomic(this.path("uploads", `${job.id}.mask`), upload.mask);
    await writeFileAtomic(this.path("jobs", `${job.id}.json`), JSON.stringify(job));
    // Checked again: another submission may have taken the last place while this one was written.
    if (this.closed || this.waiting.length >= this.options.maxQueued) {
      await this.forget(job.id);
      throw this.closed ? new QueueClosedError() : new QueueFullError(this.retryAfterSeconds(), this.options.maxQueued);
    }
    this.records.set(job.id, job);
    this.sizes.set(job.id, bytes);
    this.waiting.push(job.id);
    this.pump();
    return job;
  }

  /** Evicts the oldest finished results until `bytes` more fit in the disk budget. */
  private async makeRoom(bytes: number): Promise<void> {
    while (this.usedBytes() + bytes > this.options.diskBudgetBytes && this.finished.length > 0) await this.expire(this.finished[0]);
    if (this.usedBytes() + bytes > this.options.diskBudgetBytes) throw new StorageFullError(this.retryAfterSeconds(), this.options.diskBudgetBytes);
  }

  private usedBytes(): number {
    let n = 0;
    for (const b of this.sizes.values()) n += b;
    return n;
  }

  async get(id: string): Promise<JobRecord | typeof EXPIRED | undefined> {
    const job = this.records.get(id);
    if (job && isFinished(job) && job.finishedAt! <= Date.now() - this.options.keepFinishedMs) await this.expire(id);
    return this.records.get(id) ?? (this.tombstones.has(id) ? EXPIRED : undefined);
  }

  async position(job: JobRecord): Promise<number | null> {
    const i = this.waiting.indexOf(job.id);
    return i < 0 ? null : i + 1;
  }

  async result(id: string): Promise<{ stream: ReturnType<typeof createReadStream>; bytes: number } | null> {
    const path = this.path("results", `${id}.png`);
    const bytes = await fileSize(path);
    if (bytes === 0) return null;
    return { stream: createReadStream(path), bytes };
  }

  subscribe(id: string, listener: JobListener): () => void {
    return this.listeners.add(id, listener);
  }

  async cancel(id: string): Promise<JobRecord | typeof EXPIRED | undefined> {
    const job = await this.get(id);
    if (!job || job === EXPIRED || isFinished(job)) return job;
    const run = this.running.get(id);
    if (run) {
      run.cancelled = true;
      run.abort.abort();
      await run.done;
    } else {
      const i = this.waiting.indexOf(id);
      if (i >= 0) this.waiting.splice(i, 1);
      await this.finish(job, { error: CANCELLED });
      for (const other of this.waiting.slice(i)) this.emit(this.records.get(other)!, { type: "status" });
    }
    return this.records.get(id) ?? job;
  }

  async stats(): Promise<QueueStats> {
    return { running: this.running.size, queued: this.waiting.length, concurrency: this.options.concurrency, maxQueued: this.options.maxQueued, workers: 1 };
  }

  async ready(): Promise<{ ok: boolean; detail: string }> {
    return this.closed ? { ok: false, detail: "shutting down" } : { ok: true, detail: `data directory ${this.dir}` };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Stops starting jobs; the waiting ones stay queued on disk and run when the store is opened again.
   * Running ones get `graceMs` to finish, then are aborted and left queued too. Releases the lock.
   */
  async close(graceMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    const all = Promise.all([...this.running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), graceMs)));
    if ((await Promise.race([all, grace])) === "timeout") for (const r of this.running.values()) r.abort.abort();
    clearTimeout(timer);
    await all;
    await Promise.all(this.writes.values());
    await rm(join(this.dir, "lock"), { force: true });
  }

  private pump(): void {
    let moved = false;
    while (!this.closed && this.running.size < this.options.concurrency && this.waiting.length > 0) {
      this.start(this.records.get(this.waiting.shift()!)!);
      moved = true;
    }
    if (moved) for (const id of this.waiting) this.emit(this.records.get(id)!, { type: "status" });
  }

  private start(job: JobRecord): void {
    const abort = new AbortController();
    const entry = { abort, cancelled: false, done: Promise.resolve() };
    this.running.set(job.id, entry);
    const progress = (p: EditProgress) => {
      if (job.status !== "running") return;
      job.progress = p; // kept in memory only: a restart re-runs the edit from the start anyway
      this.emit(job, { type: "progress", progress: p });
    };
    entry.done = (async () => {
      try {
        await this.update(job, { status: "running", startedAt: Date.now(), attempts: job.attempts + 1 });
        const upload: EditUpload = { image: await readFile(this.path("uploads", `${job.id}.image`)) };
        if (job.hasMask) upload.mask = await readFile(this.path("uploads", `${job.id}.mask`));
        const r = await this.work(job, upload, { signal: abort.signal, progress });
        await writeFileAtomic(this.path("results", `${job.id}.png`), r.png);
        await this.finish(job, { expressiveInstruction: r.expressiveInstruction, timings: r.timings, bytes: r.png.byteLength });
      } catch (err) {
        if (entry.cancelled) await this.finish(job, { error: CANCELLED });
        else if (this.closed && abort.signal.aborted) {
          // Cut off by the shutdown: it stays queued on disk and runs again at the next start.
          await this.update(job, { status: "queued", progress: undefined, attempts: job.attempts - 1 });
        } else await this.finish(job, { error: jobError(err) });
      } finally {
        this.running.delete(job.id);
        this.pump();
      }
    })();
  }

  private async finish(
    job: JobRecord,
    outcome: { error: JobRecord["error"] } | { expressiveInstruction: string; timings: Record<string, number>; bytes: number },
  ): Promise<void> {
    const finishedAt = Date.now();
    if ("error" in outcome) await this.update(job, { status: "failed", error: outcome.error, finishedAt, progress: undefined });
    else {
      const { expressiveInstruction, timings } = outcome;
      await this.update(job, { status: "done", expressiveInstruction, timings, finishedAt, progress: undefined });
    }
    await rm(this.path("uploads", `${job.id}.image`), { force: true });
    await rm(this.path("uploads", `${job.id}.mask`), { force: true });
    this.sizes.set(job.id, "bytes" in outcome ? outcome.bytes : 0);
    if (job.startedAt !== undefined) this.drain.finished(finishedAt);
    this.finished.push(job.id);
    this.options.onFinished?.(job);
    this.emit(job, { type: "status" });
    this.listeners.drop(job.id);
    await this.evict();
  }

  /** Changes a record and writes it, one write at a time per job. */
  private async update(job: JobRecord, changes: Partial<JobRecord>): Promise<void> {
    Object.assign(job, changes);
    for (const [k, v] of Object.entries(changes)) if (v === undefined) delete job[k as keyof JobRecord];
    const snapshot = JSON.stringify({ ...job, progress: undefined });
    const previous = this.writes.get(job.id) ?? Promise.resolve();
    const write = previous.then(() => writeFileAtomic(this.path("jobs", `${job.id}.json`), snapshot));
    this.writes.set(job.id, write);
    try {
      await write;
    } finally {
      if (this.writes.get(job.id) === write) this.writes.delete(job.id);
    }
    if (changes.status === "running" || changes.status === "queued") this.emit(job, { type: "status" });
  }

  private emit(job: JobRecord, event: JobEvent): void {
    this.listeners.emit(job, event);
  }

  /** Drops finished jobs past the retention time, then the oldest while over the disk budget. */
  private async evict(): Promise<void> {
    const cutoff = Date.now() - this.options.keepFinishedMs;
    while (this.finished.length > 0) {
      const oldest = this.records.get(this.finished[0]);
      if (oldest && oldest.finishedAt! > cutoff && this.usedBytes() <= this.options.diskBudgetBytes) break;
      await this.expire(this.finished[0]);
    }
    const now = Date.now();
    for (const [id, at] of this.tombstones) {
      if (now - at <= TOMBSTONE_MS) break;
      this.tombstones.delete(id);
      await rm(this.path("expired", id), { force: true });
    }
  }

  private async expire(id: string): Promise<void> {
    const i = this.finished.indexOf(id);
    if (i >= 0) this.finished.splice(i, 1);
    if (!this.records.has(id)) return;
    const at = Date.now();
    this.tombstones.set(id, at);
    await writeFileAtomic(this.path("expired", id), String(at));
    await this.forget(id);
  }

  private async forget(id: string): Promise<void> {
    this.records.delete(id);
    this.sizes.delete(id);
    await rm(this.path("results", `${id}.png`), { force: true });
    await rm(this.path("jobs", `${id}.json`), { force: true });
    await rm(this.path("uploads", `${id}.image`), { force: true });
    await rm(this.path("uploads", `${id}.mask`), { force: true });
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
