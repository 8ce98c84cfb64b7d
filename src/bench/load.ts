/**
 * `mgie bench --load`: the service under load, on loopback only, bounded in count and time. It
 * starts a throwaway redis-server, one `mgie serve --redis` API process and `mgie worker`s (each
 * pinned to a core of its own with one thread), then for each worker count: a burst of edits,
 * reporting accepted / refused / lost, p50 / p95 latency (accepted to finished, as the server
 * timed it) and throughput (edits over the time from the first start to the last finish; the burst
 * is queued before the workers start, so that the uploads' decoding is not counted against them). Optionally one worker is killed with SIGKILL mid-burst, and the
 * single-machine server is killed and restarted with edits queued and running. Last, the API
 * process's peak memory under a burst of concurrent maximum-pixel uploads.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { DEFAULT_SERVER_OPTIONS } from "../server/app.js";
import { followAll, type Proc, percentile, startRedis, startServe, startWorker, submitEdit } from "./cluster.js";

export interface LoadOptions {
  model: string;
  /** Edits per burst. */
  count: number;
  /** The bursts: on how many workers, and whether one of them is killed with SIGKILL a third of the way through. */
  runs: { workers: number; kill: boolean }[];
  steps: number;
  /** Also kill -9 the single-machine server with edits queued and running, restart it, and count what is lost. */
  restart: boolean;
  /** Concurrent maximum-pixel uploads for the memory measurement (0: skip). */
  uploads: number;
  /** Longest a burst may take before what is unfinished counts as lost. */
  timeoutS: number;
  log: (line: string) => void;
}

/** Set when a burst's edits are all followed to their end (or its time is up): nothing to wait for any more. */
let stopped = false;

interface BurstResult {
  label: string;
  accepted: number;
  refused: number;
  lost: number;
  failed: number;
  retried: number;
  p50: number;
  p95: number;
  perSecond: number;
}

async function photo(side: number): Promise<Buffer> {
  const raw = Buffer.alloc(side * side * 3);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) raw.set([x & 255, y & 255, (x + y) & 255], (y * side + x) * 3);
  return sharp(raw, { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toBuffer();
}

/**
 * Submits `count` edits as fast as the API takes them: 16 uploads in flight at a time (a client
 * sending 300 at once would mostly be told 429 BUSY by the decode slots), each refused one retried
 * after its Retry-After while the burst lasts; what is still refused at the end counts as refused.
 */
async function submitBurst(url: string, image: Buffer, o: LoadOptions): Promise<{ status: number; id?: string }[]> {
  const results: { status: number; id?: string }[] = new Array(o.count);
  let next = 0;
  const deadline = Date.now() + o.timeoutS * 1000;
  const client = async () => {
    while (next < o.count) {
      const i = next++;
      for (;;) {
        const r = await submitEdit(url, image, { instruction: `make it brighter ${i}`, steps: String(o.steps), seed: String(i) });
        results[i] = r;
        if (r.status !== 429 || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, (r.retryAfter ?? 1) * 1000));
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, client));
  return results;
}

/** Submits `count` edits to `url`; follows them on `followUrls` until done or the timeout. */
async function burst(
  label: string,
  url: string,
  followUrls: string[],
  image: Buffer,
  o: LoadOptions,
  during?: (finished: () => Promise<number>) => Promise<void>,
  startWorkers: () => Promise<void> = async () => {},
): Promise<BurstResult> {
  stopped = false;
  // The whole burst is queued first, then the workers start: throughput is the workers', not the upload's.
  const submitted = await submitBurst(url, image, o);
  await startWorkers();
  const ids = submitted.flatMap((s) => (s.id ? [s.id] : []));
  const refused = submitted.filter((s) => s.status === 429 || s.status === 503).length;
  // Acts mid-run (kills a worker) while the edits are followed; what is finished is read off /healthz.
  const finishedNow = async () => {
    const q = ((await (await fetch(`${url}/healthz`)).json()) as { queue: { running: number; queued: number } }).queue;
    return ids.length - q.running - q.queued;
  };
  const following = followAll(followUrls, ids, o.timeoutS * 1000).finally(() => (stopped = true));
  const [finished] = await Promise.all([following, during?.(finishedNow)]);
  const jobs = [...finished.values()];
  const latencies = jobs.map((j) => j.finishedAt - j.createdAt).sort((a, b) => a - b);
  const first = Math.min(...jobs.map((j) => j.startedAt));
  const last = Math.max(...jobs.map((j) => j.finishedAt));
  return {
    label,
    accepted: ids.length,
    refused,
    lost: ids.length - finished.size,
    failed: jobs.filter((j) => j.status === "failed").length,
    retried: jobs.filter((j) => j.attempts > 1).length,
    p50: latencies.length ? percentile(latencies, 50) : Number.NaN,
    p95: latencies.length ? percentile(latencies, 95) : Number.NaN,
    perSecond: jobs.length / ((last - first) / 1000),
  };
}

const row = (r: BurstResult) =>
  `| ${r.label} | ${r.accepted} | ${r.refused} | **${r.lost}** | ${r.failed} | ${r.retried} | ${(r.p50 / 1000).toFixed(2)} s | ${(r.p95 / 1000).toFixed(2)} s | ${r.perSecond.toFixed(2)} edits/s |`;

export async function loadBenchmark(o: LoadOptions): Promise<string> {
  const procs: Proc[] = [];
  const lines: string[] = [];
  // Ctrl-C or SIGTERM: the processes it started go with it.
  const onSignal = () => {
    for (const p of procs) p.child.kill("SIGKILL");
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const cores = availableParallelism();
  const image = await photo(256);
  const workerArgs = (redis: string) => ["--model", o.model, "--threads", "1", "--redis", redis, "--lock-s", "5"];
  try {
    const redis = await startRedis();
    procs.push(redis.proc);
    const api = await startServe(["--model", o.model, "--threads", "1", "--redis", redis.url, "--queue", String(Math.max(o.count, o.uploads))]);
    procs.push(api.proc);
    o.log(`load: redis ${redis.url}, API ${api.url}, ${cores} cores, model ${o.model}, ${o.count} edits a burst, steps ${o.steps}`);
    const results: BurstResult[] = [];
    for (const { workers: n, kill } of o.runs) {
      const workers: Proc[] = [];
      const startWorkers = async () => {
        for (let i = 0; i < n; i++) workers.push(await startWorker(workerArgs(redis.url), i % cores));
        procs.push(...workers);
      };
      o.log(`load: burst on ${n} worker${n > 1 ? "s" : ""}${kill ? ", one killed with SIGKILL mid-run" : ""}`);
      const during = kill
        ? async (finished: () => Promise<number>) => {
            while ((await finished()) < o.count / 3 && !stopped) await new Promise((r) => setTimeout(r, 100));
            await workers[0].stop("SIGKILL");
            o.log(`load: killed worker ${workers[0].child.pid} with SIGKILL mid-run, after ${await finished()} edits finished`);
          }
        : undefined;
      const r = await burst(`${n} worker${n > 1 ? "s" : ""}${kill ? " (1 killed)" : ""}`, api.url, [api.url], image, o, during, startWorkers);
      results.push(r);
      o.log(`load: ${row(r)}`);
      await Promise.all(workers.map((w) => w.stop()));
    }
    lines.push("| run | accepted | refused | lost | failed | retried | p50 latency | p95 latency | throughput |");
    lines.push("|---|---|---|---|---|---|---|---|---|");
    for (const r of results) lines.push(row(r));
    const one = results.find((r) => r.label === "1 worker");
    const two = results.find((r) => r.label.startsWith("2 workers") && !r.label.includes("killed"));
    if (one && two) lines.push("", `two workers / one worker: ${(two.perSecond / one.perSecond).toFixed(2)}x`);

    if (o.restart) {
      lines.push("", await restartRun(o, image));
      o.log(`load: ${lines.at(-1)}`);
    }

    if (o.uploads > 0) {
      const side = Math.floor(Math.sqrt(DEFAULT_SERVER_OPTIONS.maxImagePixels));
      const big = await sharp({ create: { width: side, height: side, channels: 3, background: "#7f7f7f" } })
        .png()
        .toBuffer();
      const before = api.proc.peakMb();
      const t0 = performance.now();
      const r = await Promise.all(Array.from({ length: o.uploads }, (_, i) => submitEdit(api.url, big, { instruction: `upload ${i}`, steps: "1" })));
      const s = (performance.now() - t0) / 1000;
      const count = (status: number) => r.filter((x) => x.status === status).length;
      lines.push(
        "",
        `API process under ${o.uploads} concurrent uploads of a ${side}x${side} PNG (${big.byteLength} bytes, the pixel limit): ` +
          `202: ${count(202)}, 429: ${count(429)}, other: ${o.uploads - count(202) - count(429)}${
            r
              .find((x) => x.status !== 202 && x.status !== 429)
              ?.body.slice(0, 120)
              .replace(/^/, " (") ?? ""
          }${o.uploads - count(202) - count(429) > 0 ? ")" : ""}, in ${s.toFixed(1)} s; ` +
          `peak resident memory (VmHWM) ${Math.round(api.proc.peakMb())} MB (${Math.round(before)} MB before the burst)`,
      );
    }
    return lines.join("\n");
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await Promise.all(procs.map((p) => p.stop("SIGKILL")));
  }
}

/** The single-machine server: a burst, kill -9 with edits queued and running, restart on the same data directory, count what is lost. */
async function restartRun(o: LoadOptions, image: Buffer): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), "mgie-load-restart-"));
  const args = ["--model", o.model, "--threads", "1", "--queue", String(o.count), "--data-dir", dataDir];
  const first = await startServe(args);
  let second: Awaited<ReturnType<typeof startServe>> | undefined;
  try {
    const submitted = await submitBurst(first.url, image, o);
    const ids = submitted.flatMap((s) => (s.id ? [s.id] : []));
    let state = { running: 0, queued: 0 };
    let done = 0;
    while (done < Math.min(3, ids.length - 2)) {
      await new Promise((r) => setTimeout(r, 100));
      state = ((await (await fetch(`${first.url}/healthz`)).json()) as { queue: typeof state }).queue;
      done = ids.length - state.running - state.queued;
    }
    await first.proc.stop("SIGKILL");
    o.log(`load: killed the single-machine server with SIGKILL: ${done} done, ${state.running} running, ${state.queued} queued`);
    second = await startServe(args);
    const finished = await followAll([second.url], ids, o.timeoutS * 1000);
    const jobs = [...finished.values()];
    return (
      `single-machine server killed with SIGKILL (${done} done, ${state.running} running, ${state.queued} queued) and restarted: ` +
      `${ids.length} accepted, ${jobs.filter((j) => j.status === "done").length} done, ${jobs.filter((j) => j.status === "failed").length} failed, ` +
      `**${ids.length - finished.size} lost**, ${jobs.filter((j) => j.attempts > 1).length} re-run`
    );
  } finally {
    await first.proc.stop("SIGKILL");
    await second?.proc.stop("SIGKILL");
    await rm(dataDir, { recursive: true, force: true });
  }
}
