import type { Readable } from "node:stream";
import { MgieError } from "../errors.js";
import type { EditProgress } from "../pipeline/editor.js";
import type { EditParams } from "./schemas.js";

export type JobStatus = "queued" | "running" | "done" | "failed";

export interface JobError {
  code: string;
  message: string;
}

/**
 * Everything known about one edit, as the store keeps it: small (no image). The upload and the
 * result PNG are kept beside it (on disk, or in Redis), never in this record.
 */
export interface JobRecord {
  id: string;
  status: JobStatus;
  params: Required<EditParams>;
  /** Whether the upload has a mask. */
  hasMask: boolean;
  /** Epoch milliseconds. */
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  /** The latest progress report of a running edit. */
  progress?: EditProgress;
  expressiveInstruction?: string;
  timings?: Record<string, number>;
  error?: JobError;
  /** Times the edit was started (more than 1: a worker or server died while it ran, and it was retried). */
  attempts: number;
}

/** The upload of an edit: the image, and the optional mask that confines the edit (both encoded, validated). */
export interface EditUpload {
  image: Uint8Array;
  mask?: Uint8Array;
}

/** `status`: the job's status or queue position changed; `progress`: the edit reported progress. */
export type JobEvent = { type: "status" } | { type: "progress"; progress: EditProgress };
export type JobListener = (job: JobRecord, event: JobEvent) => void;

/** Who listens to which job's events, in this process (both stores keep them the same way). */
export class JobListeners {
  private readonly byId = new Map<string, Set<JobListener>>();

  /** Adds `listener` for job `id`; returns its removal. */
  add(id: string, listener: JobListener): () => void {
    const set = this.byId.get(id) ?? new Set();
    this.byId.set(id, set);
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.byId.get(id) === set) this.byId.delete(id);
    };
  }

  emit(job: JobRecord, event: JobEvent): void {
    for (const listener of this.byId.get(job.id) ?? []) listener(job, event);
  }

  /** The ids someone listens to. */
  ids(): string[] {
    return [...this.byId].filter(([, set]) => set.size > 0).map(([id]) => id);
  }

  /** Forgets a finished job's listeners. */
  drop(id: string): void {
    this.byId.delete(id);
  }
}

export interface QueueStats {
  running: number;
  queued: number;
  /** Edits that may run at once: this server's slots, or the workers' (Redis). */
  concurrency: number;
  maxQueued: number;
  /** Processes running edits: 1 for the single-machine server, the live workers with Redis. */
  workers: number;
}

/** What `get` answers for an id whose job finished and was evicted (retention or disk budget). */
export const EXPIRED = "expired" as const;

/**
 * Where edits wait, run and finish. The single-machine store keeps them in a data directory and
 * runs them in this process; the Redis store puts them on a BullMQ queue that workers run.
 */
export interface JobStore {
  readonly kind: "local" | "redis";
  /** Throws what submit would if it were called now (QueueFullError, QueueClosedError): refuse before costly work. */
  ensureCapacity(): Promise<void>;
  /** Stores the job and its upload durably, then queues it; resolves once both are stored. */
  submit(params: Required<EditParams>, upload: EditUpload): Promise<JobRecord>;
  get(id: string): Promise<JobRecord | typeof EXPIRED | undefined>;
  /** 1 for the next job to start; null for a job that is not waiting. */
  position(job: JobRecord): Promise<number | null>;
  /** The result PNG of a done job as a stream (null when it is gone). */
  result(id: string): Promise<{ stream: Readable; bytes: number } | null>;
  /** Follows a job until it finishes; returns the unsubscribe function. */
  subscribe(id: string, listener: JobListener): () => void;
  /** Cancels a job: a queued one is removed, a running one aborted. Resolves with the job as it ends. */
  cancel(id: string): Promise<JobRecord | typeof EXPIRED | undefined>;
  stats(): Promise<QueueStats>;
  /** Whether what the store depends on is up (Redis, for the Redis store). */
  ready(): Promise<{ ok: boolean; detail: string }>;
  readonly isClosed: boolean;
  /** Stops taking jobs; running ones get `graceMs` to finish (the single-machine store requeues what is cut off). */
  close(graceMs: number): Promise<void>;
}

export const isFinished = (job: { status: JobStatus }) => job.status === "done" || job.status === "failed";

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

/** The data directory's disk budget is used up by uploads waiting to run. */
export class StorageFullError extends MgieError {
  constructor(
    readonly retryAfterSeconds: number,
    budgetBytes: number,
  ) {
    super("STORAGE_FULL", `the server's storage budget (${budgetBytes} bytes) is taken by edits waiting to run; try again in ${retryAfterSeconds} s`);
    this.name = "StorageFullError";
  }
}

/** The failure of an edit as its job reports it; anything but an MgieError is a bug. */
export function jobError(err: unknown): JobError {
  if (err instanceof MgieError) return { code: err.code, message: err.message };
  return { code: "INTERNAL", message: `the edit failed unexpectedly: ${err instanceof Error ? err.message : String(err)}` };
}

export const CANCELLED: JobError = { code: "CANCELLED", message: "the edit was cancelled (DELETE, or its synchronous client went away)" };

/**
 * The measured drain rate of a queue: how fast edits finish, over the last few. Retry-After is the
 * time one more waiting slot takes to free up at that rate (before any edit finished: `fallbackMs`).
 */
export class DrainRate {
  private readonly times: number[] = [];

  constructor(
    private readonly fallbackMs = 2000,
    private readonly window = 16,
  ) {}

  finished(at = Date.now()): void {
    this.times.push(at);
    if (this.times.length > this.window) this.times.shift();
  }

  /** Edits per second over the window; undefined until two edits finished. */
  perSecond(): number | undefined {
    if (this.times.length < 2) return undefined;
    const span = (this.times.at(-1)! - this.times[0]) / 1000;
    return span > 0 ? (this.times.length - 1) / span : undefined;
  }

  retryAfterSeconds(): number {
    const rate = this.perSecond();
    const seconds = rate === undefined ? this.fallbackMs / 1000 : 1 / rate;
    return Math.min(3600, Math.max(1, Math.ceil(seconds)));
  }
}
