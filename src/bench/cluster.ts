/**
 * Real processes on loopback for the load bench and the tests: a throwaway redis-server, `mgie
 * serve` and `mgie worker` processes of the built CLI, and a client that submits edits and follows
 * them to their end. Nothing here listens beyond 127.0.0.1.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** The built CLI (from src/bench or dist/bench alike). */
export const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  /** Peak resident memory (VmHWM) of the process so far, in MB (Linux). */
  peakMb: () => number;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

function track(child: ChildProcess): Proc {
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d));
  child.stderr?.on("data", (d: Buffer) => (output += d));
  const exited = once(child, "exit").then(([code]) => code as number | null);
  return {
    child,
    output: () => output,
    peakMb: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
    },
    stop: async (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

async function waitFor(proc: Proc, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<RegExpExecArray> {
  const started = Date.now();
  for (;;) {
    const m = pattern.exec(proc.output());
    if (m) return m;
    if (proc.child.exitCode !== null) throw new Error(`${what} exited with ${proc.child.exitCode}: ${proc.output()}`);
    if (Date.now() - started > timeoutMs) throw new Error(`${what} did not start in ${timeoutMs / 1000} s: ${proc.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A redis-server on a free loopback port, with no persistence: it lives as long as the bench or test. */
export async function startRedis(): Promise<{ url: string; proc: Proc }> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "pipe" });
  child.on("error", () => {});
  const proc = track(child);
  await waitFor(proc, /Ready to accept connections|ENOENT/, "redis-server", 20_000).catch((err: Error) => {
    throw new Error(`${err.message}\nredis-server is needed: scripts/setup-system.sh installs it (Debian package redis-server)`);
  });
  return { url: `redis://127.0.0.1:${port}`, proc };
}

/** `mgie serve` with these arguments on a free loopback port; resolves with its URL once it listens. */
export async function startServe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ url: string; proc: Proc }> {
  const child = spawn(process.execPath, [CLI, "serve", "--port", "0", "--no-log", ...args], { env: { ...process.env, ...env }, stdio: "pipe" });
  const proc = track(child);
  const m = await waitFor(proc, /mgie serve: (http:\/\/\S+?)\/ /, "mgie serve");
  return { url: m[1], proc };
}

/** `mgie worker` with these arguments; resolves once it takes edits. */
export async function startWorker(args: string[], cpu?: number): Promise<Proc> {
  const argv = [CLI, "worker", ...args];
  // Pinned to one core where asked (and taskset exists), so that each worker has a core of its own.
  const child =
    cpu === undefined ? spawn(process.execPath, argv, { stdio: "pipe" }) : spawn("taskset", ["-c", String(cpu), process.execPath, ...argv], { stdio: "pipe" });
  const proc = track(child);
  await waitFor(proc, /mgie worker: taking edits/, "mgie worker");
  return proc;
}

export interface Outcome {
  /** accepted: 202 then done or failed; refused: 429/503 at the door; error: anything else. */
  kind: "done" | "failed" | "refused" | "error" | "lost";
  id?: string;
  ms: number;
  detail?: string;
}

/** Submits one edit as multipart; status 0 when the connection failed. */
export async function submitEdit(
  url: string,
  image: Uint8Array,
  fields: Record<string, string>,
): Promise<{ status: number; id?: string; body: string; retryAfter?: number }> {
  const form = new FormData();
  form.append("image", new Blob([new Uint8Array(image)], { type: "image/png" }), "load.png");
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  let r: Response;
  try {
    r = await fetch(`${url}/v1/edits`, { method: "POST", body: form });
  } catch (err) {
    return { status: 0, body: `no answer: ${(err as Error).message}` };
  }
  const body = await r.text();
  const retryAfter = r.headers.get("retry-after");
  return {
    status: r.status,
    id: r.status === 202 ? (JSON.parse(body) as { id: string }).id : undefined,
    body,
    ...(retryAfter ? { retryAfter: Number(retryAfter) } : {}),
  };
}

export interface FollowedJob {
  status: string;
  attempts: number;
  /** Epoch milliseconds, as the server recorded them (startedAt: the last start). */
  createdAt: number;
  startedAt: number;
  finishedAt: number;
}

/**
 * Polls every id (round robin over `urls`, so any API process answers any id) until each is done
 * or failed, or `timeoutMs` passes: those still unfinished then are reported lost.
 */
export async function followAll(urls: string[], ids: string[], timeoutMs: number): Promise<Map<string, FollowedJob>> {
  const finished = new Map<string, FollowedJob>();
  const deadline = Date.now() + timeoutMs;
  let k = 0;
  while (finished.size < ids.length && Date.now() < deadline) {
    const pending = ids.filter((id) => !finished.has(id));
    for (let i = 0; i < pending.length; i += 16) {
      await Promise.all(
        pending.slice(i, i + 16).map(async (id) => {
          const url = urls[k++ % urls.length];
          try {
            const r = await fetch(`${url}/v1/edits/${id}`);
            if (r.status !== 200) return;
            const job = (await r.json()) as { status: string; attempts: number; createdAt: string; startedAt: string | null; finishedAt: string | null };
            if (job.status === "done" || job.status === "failed")
              finished.set(id, {
                status: job.status,
                attempts: job.attempts,
                createdAt: Date.parse(job.createdAt),
                startedAt: job.startedAt ? Date.parse(job.startedAt) : Number.NaN,
                finishedAt: Date.parse(job.finishedAt!),
              });
          } catch {
            // that API process is down: another answers on the next round
          }
        }),
      );
    }
    if (finished.size < ids.length) await new Promise((r) => setTimeout(r, 100));
  }
  return finished;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
