import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { JobRecord, JobStore } from "./jobStore.js";

/**
 * The server's Prometheus metrics (GET /metrics), in a registry of its own: queue depth, running
 * edits and workers (read from the store at each scrape), edits by outcome, stage durations,
 * requests refused at the door, and the process's own (memory, CPU, event loop).
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly outcomes: Counter<"outcome">;
  private readonly stages: Histogram<"stage">;
  private readonly refusals: Counter<"reason">;

  constructor(store: JobStore) {
    collectDefaultMetrics({ register: this.registry, prefix: "mgie_" });
    const registers = [this.registry];
    new Gauge({
      name: "mgie_queue_depth",
      help: "edits waiting to run",
      registers,
      async collect() {
        this.set((await store.stats()).queued);
      },
    });
    new Gauge({
      name: "mgie_edits_running",
      help: "edits running now",
      registers,
      async collect() {
        this.set((await store.stats()).running);
      },
    });
    new Gauge({
      name: "mgie_workers",
      help: "processes running edits (1 for the single-machine server; the live workers with Redis)",
      registers,
      async collect() {
        this.set((await store.stats()).workers);
      },
    });
    this.outcomes = new Counter({
      name: "mgie_edits_total",
      help: "edits finished, by outcome (done, failed, cancelled); with Redis, every API process sees every edit",
      labelNames: ["outcome"],
      registers,
    });
    this.stages = new Histogram({
      name: "mgie_edit_stage_seconds",
      help: "time of each stage of the edits that finished, and their total",
      labelNames: ["stage"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.refusals = new Counter({
      name: "mgie_requests_refused_total",
      help: "requests refused at the door, by reason (queue_full, busy, storage_full, forbidden_host, …)",
      labelNames: ["reason"],
      registers,
    });
  }

  /** Counts a finished edit and its stage times. */
  finished(job: JobRecord): void {
    this.outcomes.inc({ outcome: job.status === "done" ? "done" : job.error?.code === "CANCELLED" ? "cancelled" : "failed" });
    for (const [stage, ms] of Object.entries(job.timings ?? {})) this.stages.observe({ stage }, ms / 1000);
  }

  refused(reason: string): void {
    this.refusals.inc({ reason });
  }
}
