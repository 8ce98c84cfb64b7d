import { hostname } from "node:os";
import { type Job as BullJob, UnrecoverableError, Worker } from "bullmq";
import { MgieError } from "../errors.js";
import { type Editor, runEdit } from "./editJobs.js";
import { CANCELLED, type EditUpload, isFinished, type JobRecord, jobError } from "./jobStore.js";
import { CANCEL_CHANNEL, connect, connectOrExplain, type EditJobData, EVENTS_CHANNEL, keys, QUEUE_NAME, readRecord, writeRecord } from "./redisKeys.js";

export interface EditWorkerOptions {
  /** Edits this process runs at once (1: ONNX Runtime already uses every core it is given). */
  concurrency: number;
  /**
   * How long a worker's hold on a job lasts without renewal (it renews at half that): a worker that
   * dies mid-edit has its job taken by another about this long after.
   */
  lockMs: number;
  /** A job whose worker died this many times fails with that reason instead of running again. */
  maxStalls: number;
  log?: (line: string) => void;
  /** Called when this worker finishes a job (done or failed). */
  onFinished?: (job: JobRecord) => void;
}

export interface EditWorker {
  worker: Worker;
  close(): Promise<void>;
}

/**
 * `mgie worker`: takes edits off the Redis queue and runs them with `editor`, writing progress,
 * the result and the record back to Redis. At least once, with idempotent results: a job whose
 * record is already finished is not run again; a result is written under the job's id before its
 * record says done, so a retried edit only overwrites it with the same bytes.
 */
export async function startEditWorker(url: string, editor: Editor, options: EditWorkerOptions): Promise<EditWorker> {
  const redis = connect(url, "worker");
  await connectOrExplain(redis, url);
  const subscriber = connect(url, "worker-cancel");
  await connectOrExplain(subscriber, url);
  const me = `${hostname()}:${process.pid}`;
  const log = options.log ?? (() => {});

  const processJob = async (bj: BullJob<EditJobData>, _token?: string, signal?: AbortSignal): Promise<string> => {
    const { id } = bj.data;
    // The API process that accepted the job says how long its outcome is kept.
    const settings = { keepFinishedMs: bj.data.keepFinishedMs };
    const finish = async (job: JobRecord, changes: Partial<JobRecord>): Promise<void> => {
      const done: JobRecord = { ...job, ...changes, finishedAt: Date.now() };
      delete done.progress;
      if (await writeRecord(redis, done, settings)) options.onFinished?.(done);
    };
    const job = await readRecord(redis, id);
    if (!job) throw new UnrecoverableError(`the record of edit ${id} is gone (expired or deleted)`);
    if (isFinished(job)) return "already finished"; // delivered again after it finished: nothing to do
    if (await redis.exists(`${keys.job(id)}:cancel`)) {
      await finish(job, { status: "failed", error: CANCELLED });
      return "cancelled";
    }
    const running: JobRecord = { ...job, status: "running", startedAt: Date.now(), attempts: job.attempts + 1 };
    await writeRecord(redis, running, settings);
    log(`${id} started (attempt ${running.attempts})`);
    const [image, mask] = await Promise.all([redis.getBuffer(keys.upload(id, "image")), job.hasMask ? redis.getBuffer(keys.upload(id, "mask")) : null]);
    if (!image || (job.hasMask && !mask)) {
      await finish(running, { status: "failed", error: { code: "UPLOAD_LOST", message: "the upload of this edit is gone from Redis; submit it again" } });
      throw new UnrecoverableError("upload lost");
    }
    const upload: EditUpload = { image, ...(mask ? { mask } : {}) };
    const abort = new AbortController();
    signal?.addEventListener("abort", () => abort.abort(), { once: true });
    let lastStage = "";
    try {
      const r = await runEdit(editor, job.params, upload, {
        signal: abort.signal,
        log,
        progress: (p) => {
          void redis.publish(EVENTS_CHANNEL, JSON.stringify({ id, type: "progress", progress: p }));
          if (p.stage !== lastStage) {
            lastStage = p.stage;
            void writeRecord(redis, { ...running, progress: p }, settings);
          }
        },
      });
      await redis.set(keys.result(id), r.png, "PX", Math.max(1, settings.keepFinishedMs));
      await finish(running, { status: "done", expressiveInstruction: r.expressiveInstruction, timings: r.timings });
      return "done";
    } catch (err) {
      if (abort.signal.aborted) {
        await finish(running, { status: "failed", error: CANCELLED });
        throw new UnrecoverableError("cancelled");
      }
      // A bad input fails the same way every time: no retry. Anything else may be retried.
      const last = err instanceof MgieError || bj.attemptsMade + 1 >= (bj.opts.attempts ?? 1);
      if (last) {
        await finish(running, { status: "failed", error: jobError(err) });
        throw new UnrecoverableError((err as Error).message);
      }
      await writeRecord(redis, { ...running, status: "queued" }, settings);
      throw err;
    }
  };

  const workerConnection = redis.duplicate();
  const worker = new Worker(QUEUE_NAME, processJob, {
    connection: workerConnection,
    concurrency: options.concurrency,
    lockDuration: options.lockMs,
    stalledInterval: Math.max(500, Math.round(options.lockMs / 2)),
    maxStalledCount: Math.max(0, options.maxStalls - 1),
    name: me,
  });
  // A job whose worker died too often is failed by BullMQ's stalled check: say so on its record.
  worker.on("failed", (bj, err) => {
    // Emitted after every failed attempt: only a final one (no attempts left, or too many stalls) is recorded here.
    if (!bj || !(/allowable limit/.test(err.message) || bj.attemptsMade >= (bj.opts.attempts ?? 1))) return;
    void (async () => {
      const job = await readRecord(redis, bj.data.id);
      if (!job || isFinished(job)) return;
      const failed: JobRecord = {
        ...job,
        status: "failed",
        finishedAt: Date.now(),
        error: { code: "ABANDONED", message: `the edit was not finished: ${err.message}` },
      };
      delete failed.progress;
      if (await writeRecord(redis, failed, { keepFinishedMs: bj.data.keepFinishedMs })) options.onFinished?.(failed);
    })();
  });
  worker.on("error", (err) => log(`worker error: ${err.message}`));
  await subscriber.subscribe(CANCEL_CHANNEL);
  subscriber.on("message", (_channel: string, id: string) => {
    worker.cancelJob(id, "cancelled");
  });
  await worker.waitUntilReady();
  return {
    worker,
    async close() {
      await worker.close();
      workerConnection.disconnect(); // BullMQ does not close a connection it was given
      subscriber.disconnect();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
