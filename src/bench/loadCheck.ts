/**
 * Load check of the HTTP server: starts `mgie serve`'s server in this process on a free loopback
 * port, submits many edits at the same moment, follows each accepted one to its end over
 * Server-Sent Events, and reports how many completed, were refused with 429, or failed (which
 * must be none), with the latency of the completed ones. Exit status 1 when any failed.
 *
 *   node dist/bench/loadCheck.js --model DIR [--count 50] [--steps 2] [--concurrency 1] [--queue 16] [--threads N]
 */
import { parseArgs } from "node:util";
import sharp from "sharp";
import { MgieEditor } from "../pipeline/editor.js";
import { createServer, DEFAULT_SERVER_OPTIONS } from "../server/app.js";

interface Outcome {
  kind: "completed" | "rejected" | "failed" | "error";
  ms: number;
  detail?: string;
}

function wholeNumber(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number of at least 1, got '${value}'`);
  return n;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** A 256x256 gradient: big enough that decoding and resizing are part of the work. */
async function testImage(): Promise<Buffer> {
  const side = 256;
  const raw = Buffer.alloc(side * side * 3);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) raw.set([x, y, (x + y) >> 1], (y * side + x) * 3);
  return sharp(raw, { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toBuffer();
}

/** Submits one edit and follows it to its end; the latency is from submission to the final event. */
async function oneEdit(url: string, image: Buffer, i: number, steps: number): Promise<Outcome> {
  const t0 = performance.now();
  const form = new FormData();
  form.append("image", new Blob([new Uint8Array(image)], { type: "image/png" }), "load.png");
  form.append("instruction", `make it brighter (${i})`);
  form.append("steps", String(steps));
  form.append("seed", String(i));
  try {
    const r = await fetch(`${url}/v1/edits`, { method: "POST", body: form });
    if (r.status === 429) {
      await r.arrayBuffer();
      return { kind: "rejected", ms: performance.now() - t0, detail: `Retry-After ${r.headers.get("retry-after")} s` };
    }
    if (r.status !== 202) return { kind: "error", ms: performance.now() - t0, detail: `HTTP ${r.status}: ${await r.text()}` };
    const job = (await r.json()) as { links: { events: string } };
    // The server ends the stream after the final event, so the whole body is the job's life.
    const events = await (await fetch(url + job.links.events)).text();
    const last = events.trim().split("\n\n").at(-1) ?? "";
    const ms = performance.now() - t0;
    if (last.startsWith("event: done")) return { kind: "completed", ms };
    return { kind: "failed", ms, detail: last };
  } catch (err) {
    return { kind: "error", ms: performance.now() - t0, detail: (err as Error).message };
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: "string" },
      count: { type: "string" },
      steps: { type: "string" },
      concurrency: { type: "string" },
      queue: { type: "string" },
      threads: { type: "string" },
    },
  });
  if (!values.model) throw new Error("give the model directory: --model DIR");
  const count = wholeNumber("count", values.count, 50);
  const steps = wholeNumber("steps", values.steps, 2);
  const concurrency = wholeNumber("concurrency", values.concurrency, DEFAULT_SERVER_OPTIONS.concurrency);
  const maxQueued = wholeNumber("queue", values.queue, DEFAULT_SERVER_OPTIONS.maxQueued);
  const threads = values.threads === undefined ? undefined : wholeNumber("threads", values.threads, 1);

  const editor = await MgieEditor.load(values.model, { threads });
  const { app } = await createServer(editor, { concurrency, maxQueued });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  const m = editor.manifest;
  console.log(
    `load check: ${count} edits at once against ${m.name} (${m.resolution}x${m.resolution}) at ${url}, steps ${steps}, concurrency ${concurrency}, queue ${maxQueued}`,
  );

  const image = await testImage();
  const t0 = performance.now();
  let outcomes: Outcome[];
  try {
    outcomes = await Promise.all(Array.from({ length: count }, (_, i) => oneEdit(url, image, i, steps)));
  } finally {
    await app.close();
  }
  const wallMs = performance.now() - t0;

  const of = (kind: Outcome["kind"]) => outcomes.filter((o) => o.kind === kind);
  const completed = of("completed")
    .map((o) => o.ms)
    .sort((a, b) => a - b);
  const retryAfter = [...new Set(of("rejected").map((o) => o.detail))].join(", ");
  console.log(`  completed       ${completed.length}`);
  console.log(`  rejected (429)  ${of("rejected").length}${retryAfter ? `  (${retryAfter})` : ""}`);
  console.log(`  failed          ${of("failed").length}`);
  console.log(`  other errors    ${of("error").length}`);
  if (completed.length > 0) {
    const f = (ms: number) => `${Math.round(ms)} ms`;
    console.log(`  latency, submission to done: p50 ${f(percentile(completed, 50))}, p95 ${f(percentile(completed, 95))}, max ${f(completed.at(-1)!)}`);
  }
  console.log(`  wall time ${(wallMs / 1000).toFixed(2)} s, ${(completed.length / (wallMs / 1000)).toFixed(1)} edits/s`);
  for (const o of [...of("failed"), ...of("error")].slice(0, 5)) console.log(`  ${o.kind}: ${o.detail}`);
  if (of("failed").length + of("error").length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`load check: ${(err as Error).message}`);
  process.exitCode = 2;
});
