import { availableParallelism } from "node:os";
import { Command } from "commander";
import { DEFAULT_MODEL_DIR, MgieEditor } from "../pipeline/editor.js";
import { startEditWorker } from "../server/redisWorker.js";
import { wholeNumber } from "./parse.js";
import { stopOnSignals } from "./shutdown.js";

interface WorkerCliOptions {
  redis: string;
  model: string;
  threads?: number;
  concurrency: number;
  lockS: number;
  maxStalls: number;
}

export function workerCommand(): Command {
  const cores = availableParallelism();
  return new Command("worker")
    .description("run edits from the Redis queue of `mgie serve --redis` (start as many, on as many machines, as you like)")
    .requiredOption("--redis <url>", "the Redis the API processes use, e.g. redis://10.0.0.5:6379")
    .option("--model <dir>", "model directory (the same model as the API processes)", DEFAULT_MODEL_DIR)
    .option("--threads <n>", `ONNX Runtime threads per component (default: one per core; at most ${cores}, the cores here)`, wholeNumber("--threads", 1, cores))
    .option("--concurrency <n>", "edits this process runs at once", wholeNumber("--concurrency", 1, 64), 1)
    .option("--lock-s <s>", "a job whose worker stops renewing its hold this long (it died) goes to another worker", wholeNumber("--lock-s", 1, 3600), 30)
    .option("--max-stalls <n>", "a job whose worker died this many times fails instead of running again", wholeNumber("--max-stalls", 1, 100), 3)
    .action(async (o: WorkerCliOptions) => {
      const editor = await MgieEditor.load(o.model, { threads: o.threads });
      const log = (line: string) => console.log(JSON.stringify({ time: Date.now(), pid: process.pid, msg: line }));
      const w = await startEditWorker(o.redis, editor, {
        concurrency: o.concurrency,
        lockMs: o.lockS * 1000,
        maxStalls: o.maxStalls,
        log,
        // Logged once per job, by the worker whose outcome was recorded.
        onFinished: (job) =>
          log(`${job.id} recorded ${job.status}${job.error ? ` ${job.error.code}` : ""} (attempt ${job.attempts}, ${Math.round(job.timings?.total ?? 0)} ms)`),
      });
      const m = editor.manifest;
      console.error(`mgie worker: taking edits from ${o.redis} (model ${m.name}, ${m.resolution}x${m.resolution}, concurrency ${o.concurrency})`);
      stopOnSignals("mgie worker", () => w.close(), {
        finishing: "finishing the edits it has",
        again: "its edits go to another worker",
      });
    });
}
