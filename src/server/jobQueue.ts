import { randomUUID } from "node:crypto";
import { MgieError } from "../errors.js";

export type JobStatus = "queued" | "running" | "done" | "failed";

export interface JobError {
  code: string;
  message: string;
}

/** One unit of work and everything known about it; the queue alone changes it. */
export interface Job<I, R, P> {
  readonly id: string;
  /** What the job was asked to do, kept for its whole life (unlike the payload). */
  readonly input: I;
  readonly status: JobStatus;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  /** The latest progress report of a running job. */
  readonly progress?: P;
  readonly result?: R;
  readonly error?: JobError;
}

/** `status`: the job's status or queue position changed; `progress`: the work reported progress. */
export type JobEvent<P> = { type: "status" } | { type: "progress"; progress: P };
export type JobListener<I, R, P> = (job: Job<I, R, P>, event: JobEvent<P>) => void;

/** Runs one job: `payload` is the bulky data it consumes, which the queue does not keep. */
export type Work<I, X, R, P> = (input: I, payload: X, context: { signal: AbortSignal; progress: (p: P) => void }) => Promise<R>;

export interface JobQueueOptions {
  /** Jobs that run at once. */
  concurrency: number;
  /** Jobs that may wait for a free slot; a submission beyond them is refused with QueueFullError. */
  maxQueued: number;
  /** How long a finished job (and its result) is kept after it finished. */
  keepFinishedMs: number;
  /** At most this many finished jobs are kept; the oldest go first. */
  maxFinished: number;
}

/** The queue is full: the caller should try again after `retryAfterSeconds`. */
export class QueueFullError extends MgieError {
  constructor(
    readonly retryAfterSeconds: number,
    maxQueued: number,
  ) {
    super("QUEUE_FULL", `the server is busy: ${maxQueued} edits are already waiting; try again in ${retryAfterSeconds} s`);
    this.name = "QueueFullError";
  }
}

export class QueueClosedError extends MgieError {
  constructor() {
    super("SHUTTING_DOWN", "the server is shutting down and takes no new edits; try again when it is back");
    this.name = "QueueClosedError";
  }
}

type MutableJob<I, R, P> = { -readonly [K in keyof Job<I, R, P>]: Job<I, R, P>[K] };

/** Weight of the latest run in the running mean of run times (which sets Retry-After). */
const RUN_TIME_SMOOTHING = 0.3;

/**
 * A bounded in-process job queue: at most `concurrency` jobs run, at most `maxQueued` wait, and
 * every accepted job ends as `done` or `failed` (a thrown error becomes the job's `error`).
 * Finished jobs stay readable for `keepFinishedMs`, at most `maxFinished` of them; a job's
 * payload (type X) is dropped as soon as its work has it, so kept jobs hold only input and result.
 * Listeners see every status change, queue-position change and progress report of their job.
 */
export class JobQueue<I, X, R, P> {
  private readonly jobs = new Map<string, MutableJob<I, R, P>>();
  private readonly waiting: { job: MutableJob<I, R, P>; payload: X }[] = [];
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  /** Finished job ids in the order they finished, for eviction. */
  private readonly finished = new Set<string>();
  private readonly listeners = new Map<string, Set<JobListener<I, R, P>>>();
  private meanRunMs: number | undefined;
  private closed = false;

  constructor(
    private readonly work: Work<I, X, R, P>,
    readonly options: JobQueueOptions,
  ) {
    for (const key of ["concurrency", "maxQueued", "maxFinished"] as const) {
      if (!Number.isInteger(options[key]) || options[key] < 1) throw new RangeError(`${key} must be a whole number of at least 1, got ${options[key]}`);
    }
  }

  /** Accepts a job, or throws QueueFullError / QueueClosedError; the job starts as soon as a slot is free. */
  submit(input: I, payload: X): Job<I, R, P> {
    this.ensureCapacity();
    const job: MutableJob<I, R, P> = { id: randomUUID(), input, status: "queued", createdAt: Date.now() };
    this.jobs.set(job.id, job);
    this.waiting.push({ job, payload });
    this.pump();
    return job;
  }

  /** Throws what submit would if it were called now: lets a caller refuse before costly preparation. */
  ensureCapacity(): void {
    if (this.closed) throw new QueueClosedError();
    this.evictExpired();
    if (this.waiting.length >= this.options.maxQueued) throw new QueueFullError(this.retryAfterSeconds(), this.options.maxQueued);
  }

  get(id: string): Job<I, R, P> | undefined {
    this.evictExpired();
    return this.jobs.get(id);
  }

  /** 1 for the next job to start; null for a job that is not waiting. */
  position(job: Job<I, R, P>): number | null {
    const i = this.waiting.findIndex((w) => w.job === job);
    return i < 0 ? null : i + 1;
  }

  /** Follows a job that has not finished, until it does (listeners are dropped then); returns the unsubscribe function. */
  subscribe(id: string, listener: JobListener<I, R, P>): () => void {
    const set = this.listeners.get(id) ?? new Set();
    this.listeners.set(id, set);
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(id) === set) this.listeners.delete(id);
    };
  }

  /** Resolves with the job once it is done or failed. */
  finishedJob(id: string): Promise<Job<I, R, P>> {
    const job = this.jobs.get(id);
    if (!job) return Promise.reject(new Error(`no job ${id}`));
    if (job.status === "done" || job.status === "failed") return Promise.resolve(job);
    return new Promise((resolve) => {
      const unsubscribe = this.subscribe(id, (j) => {
        if (j.status === "done" || j.status === "failed") {
          unsubscribe();
          resolve(j);
        }
      });
    });
  }

  stats(): { running: number; queued: number; concurrency: number; maxQueued: number } {
    return { running: this.running.size, queued: this.waiting.length, concurrency: this.options.concurrency, maxQueued: this.options.maxQueued };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Stops taking jobs: waiting ones fail with SHUTTING_DOWN, running ones get `graceMs` to finish
   * and are then aborted. Resolves when no job runs any more.
   */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    for (const { job } of this.waiting.splice(0)) {
      this.finish(job, { error: { code: "SHUTTING_DOWN", message: "the server shut down before this edit started; submit it again when the server is back" } });
    }
    const all = Promise.all([...this.running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), graceMs)));
    if ((await Promise.race([all, grace])) === "timeout") for (const r of this.running.values()) r.abort.abort();
    clearTimeout(timer);
    await all;
  }

  /** Seconds until a waiting slot is likely to free up: one mean run time spread over the slots. */
  private retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.meanRunMs ?? 1000) / 1000 / this.options.concurrency));
  }

  private pump(): void {
    let moved = false;
    while (this.running.size < this.options.concurrency && this.waiting.length > 0) {
      const { job, payload } = this.waiting.shift()!;
      this.start(job, payload);
      moved = true;
    }
    // Everyone still waiting moved up a place.
    if (moved) for (const { job } of this.waiting) this.emit(job, { type: "status" });
  }

  private start(job: MutableJob<I, R, P>, payload: X): void {
    const abort = new AbortController();
    job.status = "running";
    job.startedAt = Date.now();
    const progress = (p: P) => {
      if (job.status !== "running") return;
      job.progress = p;
      this.emit(job, { type: "progress", progress: p });
    };
    const done = Promise.resolve()
      .then(() => this.work(job.input, payload, { signal: abort.signal, progress }))
      .then(
        (result) => this.finish(job, { result }),
        (err: unknown) => this.finish(job, { error: jobError(err) }),
      );
    this.running.set(job.id, { abort, done });
    this.emit(job, { type: "status" });
  }

  private finish(job: MutableJob<I, R, P>, outcome: { result: R } | { error: JobError }): void {
    const wasRunning = this.running.delete(job.id);
    job.finishedAt = Date.now();
    if ("result" in outcome) {
      job.status = "done";
      job.result = outcome.result;
    } else {
      job.status = "failed";
      job.error = outcome.error;
    }
    if (wasRunning && job.startedAt !== undefined) {
      const ms = job.finishedAt - job.startedAt;
      this.meanRunMs = this.meanRunMs === undefined ? ms : this.meanRunMs + RUN_TIME_SMOOTHING * (ms - this.meanRunMs);
    }
    this.finished.add(job.id);
    this.emit(job, { type: "status" });
    this.listeners.delete(job.id);
    this.evictExpired();
    if (!this.closed) this.pump();
  }

  private emit(job: MutableJob<I, R, P>, event: JobEvent<P>): void {
    for (const listener of this.listeners.get(job.id) ?? []) listener(job, event);
  }

  private evictExpired(): void {
    const cutoff = Date.now() - this.options.keepFinishedMs;
    for (const id of this.finished) {
      const tooMany = this.finished.size > this.options.maxFinished;
      if (!tooMany && this.jobs.get(id)!.finishedAt! > cutoff) break;
      this.finished.delete(id);
      this.jobs.delete(id);
    }
  }
}

function jobError(err: unknown): JobError {
  if (err instanceof MgieError) return { code: err.code, message: err.message };
  return { code: "INTERNAL", message: `the edit failed unexpectedly: ${err instanceof Error ? err.message : String(err)}` };
}
