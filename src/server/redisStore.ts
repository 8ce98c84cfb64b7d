import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
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
  QueueClosedError,
  QueueFullError,
  type QueueStats,
} from "./jobStore.js";
import {
  CANCEL_CHANNEL,
  connect,
  connectOrExplain,
  type EditJobData,
  EVENTS_CHANNEL,
  keys,
  QUEUE_NAME,
  type RedisJobSettings,
  readRecord,
  writeRecord,
} from "./redisKeys.js";
import type { EditParams } from "./schemas.js";

export interface RedisStoreOptions extends RedisJobSettings {
  /** Edits that may wait in the queue (all API processes together); more are refused with 429. */
  maxQueued: number;
  /** Tries of an edit that fails with an unexpected error (a worker that dies mid-edit counts as one). */
  maxAttempts: number;
  /** Called once per finished job this process sees (metrics). */
  onFinished?: (job: JobRecord) => void;
  log?: (line: string) => void;
}

/**
 * The job store of `mgie serve --redis`: jobs go on a BullMQ queue that `mgie worker` processes run,
 * records, uploads and results live in Redis (redisKeys.ts), so any API process answers any id, and
 * status and progress come back over Redis pub/sub.
 */
export class RedisJobStore implements JobStore {
  readonly kind = "redis";
  private readonly listeners = new JobListeners();
  private readonly drain = new DrainRate();
  private closed = false;
  /** Connections handed to BullMQ, which does not close what it did not open. */
  private readonly connections: Redis[] = [];

  private constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly queue: Queue,
    readonly options: RedisStoreOptions,
  ) {}

  static async open(url: string, options: RedisStoreOptions): Promise<RedisJobStore> {
    const redis = connect(url, "api");
    await connectOrExplain(redis, url);
    const subscriber = connect(url, "api-events");
    await connectOrExplain(subscriber, url);
    const queueConnection = redis.duplicate();
    const queue = new Queue(QUEUE_NAME, { connection: queueConnection });
    const store = new RedisJobStore(redis, subscriber, queue, options);
    store.connections.push(queueConnection);
    await subscriber.subscribe(EVENTS_CHANNEL);
    // One event at a time, in the order published: a status read from Redis must not overtake the progress after it.
    let events = Promise.resolve();
    subscriber.on("message", (_channel: string, message: string) => {
      events = events.then(() => store.onEvent(message)).catch((err: unknown) => options.log?.(`event ${message}: ${(err as Error).message}`));
    });
    return store;
  }

  private async onEvent(message: string): Promise<void> {
    const event = JSON.parse(message) as { id: string } & JobEvent;
    if (event.type === "progress") {
      this.listeners.emit({ id: event.id, status: "running" } as JobRecord, event);
      return;
    }
    const job = await readRecord(this.redis, event.id);
    if (!job) return;
    if (isFinished(job)) {
      this.drain.finished(job.finishedAt);
      this.options.onFinished?.(job);
    }
    this.emit(job, { type: "status" });
    if (isFinished(job)) this.listeners.drop(job.id);
    // A job started or left: everyone waiting moved up a place.
    if (job.status !== "queued") {
      for (const id of this.listeners.ids()) {
        if (id === job.id) continue;
        const other = await readRecord(this.redis, id);
        if (other?.status === "queued") this.emit(other, { type: "status" });
      }
    }
  }

  private emit(job: JobRecord, event: JobEvent): void {
    this.listeners.emit(job, event);
  }

  async ensureCapacity(): Promise<void> {
    if (this.closed) throw new QueueClosedError();
    if ((await this.queue.getWaitingCount()) >= this.options.maxQueued) throw new QueueFullError(this.drain.retryAfterSeconds(), this.options.maxQueued);
  }

  async submit(params: Required<EditParams>, upload: EditUpload): Promise<JobRecord> {
    await this.ensureCapacity();
    const job: JobRecord = { id: randomUUID(), status: "queued", params, hasMask: upload.mask !== undefined, createdAt: Date.now(), attempts: 0 };
    const m = this.redis.multi().set(keys.upload(job.id, "image"), Buffer.from(upload.image));
    if (upload.mask) m.set(keys.upload(job.id, "mask"), Buffer.from(upload.mask));
    await m.set(keys.job(job.id), JSON.stringify(job)).exec();
    const data: EditJobData = { id: job.id, keepFinishedMs: this.options.keepFinishedMs };
    await this.queue.add("edit", data, {
      jobId: job.id,
      attempts: this.options.maxAttempts,
      backoff: { type: "fixed", delay: 500 },
      removeOnComplete: true,
      removeOnFail: true,
    });
    return job;
  }

  async get(id: string): Promise<JobRecord | typeof EXPIRED | undefined> {
    const job = await readRecord(this.redis, id);
    if (job) return job;
    return (await this.redis.exists(keys.expired(id))) ? EXPIRED : undefined;
  }

  async position(job: JobRecord): Promise<number | null> {
    // Workers take the oldest waiting job first; the wait list is short (at most maxQueued).
    const waiting = await this.queue.getRanges(["wait"], 0, -1, true);
    const i = waiting.indexOf(job.id);
    return i < 0 ? null : i + 1;
  }

  async result(id: string): Promise<{ stream: Readable; bytes: number } | null> {
    const png = await this.redis.getBuffer(keys.result(id));
    return png ? { stream: Readable.from([png]), bytes: png.byteLength } : null;
  }

  subscribe(id: string, listener: JobListener): () => void {
    return this.listeners.add(id, listener);
  }

  async cancel(id: string): Promise<JobRecord | typeof EXPIRED | undefined> {
    const job = await this.get(id);
    if (!job || job === EXPIRED || isFinished(job)) return job;
    const queued = await this.queue.getJob(id);
    let removed = false;
    try {
      if (queued && (await queued.getState()) === "waiting") {
        await queued.remove();
        removed = true;
      }
    } catch {
      // It started in the meantime (a running job is locked): abort it below.
    }
    if (removed) {
      await writeRecord(this.redis, { ...job, status: "failed", error: CANCELLED, finishedAt: Date.now() }, this.options);
    } else {
      // Any worker that has it aborts it; one that takes it later sees the request in the record first.
      await this.redis.set(`${keys.job(id)}:cancel`, "1", "PX", 24 * 3600_000);
      await this.redis.publish(CANCEL_CHANNEL, id);
      for (let i = 0; i < 100; i++) {
        const now = await readRecord(this.redis, id);
        if (!now || isFinished(now)) return now ?? job;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return (await this.get(id)) ?? job;
  }

  async stats(): Promise<QueueStats> {
    const [queued, running, workers] = await Promise.all([this.queue.getWaitingCount(), this.queue.getActiveCount(), this.queue.getWorkersCount()]);
    return { running, queued, concurrency: workers, maxQueued: this.options.maxQueued, workers };
  }

  async ready(): Promise<{ ok: boolean; detail: string }> {
    if (this.closed) return { ok: false, detail: "shutting down" };
    try {
      await Promise.race([this.redis.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error("no answer in 2 s")), 2000))]);
    } catch (err) {
      return { ok: false, detail: `Redis is down: ${(err as Error).message}` };
    }
    const workers = await this.queue.getWorkersCount();
    return { ok: true, detail: `Redis up, ${workers} worker${workers === 1 ? "" : "s"}` };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Stops taking jobs; the queued and running ones belong to the workers and go on. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.close();
    for (const c of this.connections) c.disconnect();
    this.subscriber.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
