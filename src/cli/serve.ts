import { availableParallelism, homedir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { MgieError } from "../errors.js";
import { DEFAULT_MODEL_DIR, MgieEditor } from "../pipeline/editor.js";
import { createServer, DEFAULT_SERVER_OPTIONS } from "../server/app.js";
import { checkToken } from "../server/auth.js";
import { wholeNumber } from "./parse.js";
import { stopOnSignals } from "./shutdown.js";

interface ServeCliOptions {
  model: string;
  host: string;
  port: number;
  token?: string;
  concurrency: number;
  queue: number;
  threads?: number;
  maxPixels: number;
  maxUploadMb: number;
  dataDir: string;
  redis?: string;
  keepHours: number;
  diskBudgetMb: number;
  maxAttempts: number;
  maxConnections: number;
  headersTimeoutS: number;
  requestTimeoutS: number;
  idleTimeoutS: number;
  log: boolean;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

/** Where `mgie serve` keeps its jobs unless told: $MGIE_DATA_DIR, else $XDG_STATE_HOME/mgie/serve, else ~/.local/state/mgie/serve. */
export function defaultDataDir(): string {
  if (process.env.MGIE_DATA_DIR) return process.env.MGIE_DATA_DIR;
  return join(process.env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "mgie", "serve");
}

/**
 * The token from --token or MGIE_TOKEN (an empty MGIE_TOKEN counts as unset); a --token that is
 * empty or blank (`--token "$UNSET"`), or a blank MGIE_TOKEN, is refused, never taken as "no auth".
 */
export function tokenOf(flag: string | undefined): string | undefined {
  const token = flag ?? (process.env.MGIE_TOKEN === "" ? undefined : process.env.MGIE_TOKEN);
  if (token !== undefined) checkToken(token);
  return token;
}

const positiveNumber = (name: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n <= 0) throw new MgieError("INVALID_ARGUMENT", `${name} must be a number above 0, got '${v}'`);
  return n;
};

export function serveCommand(): Command {
  const cores = availableParallelism();
  const d = DEFAULT_SERVER_OPTIONS;
  return new Command("serve")
    .description("serve the HTTP API (see /openapi.json) and the web page for editing")
    .option("--model <dir>", "model directory", DEFAULT_MODEL_DIR)
    .option("--host <address>", "address to listen on (0.0.0.0 for every interface; needs --token)", "127.0.0.1")
    .option("--port <n>", "port (0 picks a free one)", wholeNumber("--port", 0, 65535), 8080)
    .option(
      "--token <secret>",
      "require 'Authorization: Bearer <secret>' on every API route (default: $MGIE_TOKEN); without one, only loopback requests are answered",
    )
    .option(
      "--data-dir <dir>",
      "where jobs, uploads and results are kept across restarts (default: $MGIE_DATA_DIR or ~/.local/state/mgie/serve)",
      defaultDataDir(),
    )
    .option("--redis <url>", "put jobs on this Redis (redis://host:6379) for `mgie worker` processes to run, instead of running them here")
    .option("--concurrency <n>", "edits run at once by this process (without --redis)", wholeNumber("--concurrency", 1, 64), d.concurrency)
    .option("--queue <n>", "edits that may wait; more get 429", wholeNumber("--queue", 1, 100_000), d.maxQueued)
    .option("--threads <n>", `ONNX Runtime threads per component (default: one per core; at most ${cores}, the cores here)`, wholeNumber("--threads", 1, cores))
    .option("--max-pixels <n>", "largest image accepted, width x height", wholeNumber("--max-pixels", 1, 2 ** 31), d.maxImagePixels)
    .option("--max-upload-mb <n>", "largest upload accepted, in MiB", wholeNumber("--max-upload-mb", 1, 1024), d.maxImageBytes / 2 ** 20)
    .option("--keep-hours <h>", "how long finished edits and their images are kept (then 410)", positiveNumber("--keep-hours"), d.keepFinishedMs / 3600_000)
    .option(
      "--disk-budget-mb <n>",
      "most disk the data directory's uploads and results may take; the oldest results go first",
      wholeNumber("--disk-budget-mb", 1, 2 ** 30),
      d.diskBudgetBytes / 2 ** 20,
    )
    .option("--max-attempts <n>", "tries of an edit whose process died mid-edit before it fails for good", wholeNumber("--max-attempts", 1, 100), d.maxAttempts)
    .option("--max-connections <n>", "open connections at once", wholeNumber("--max-connections", 1, 100_000), d.maxConnections)
    .option("--headers-timeout-s <s>", "a client must send its headers within this", positiveNumber("--headers-timeout-s"), d.headersTimeoutMs / 1000)
    .option(
      "--request-timeout-s <s>",
      "...and its whole request, upload included, within this",
      positiveNumber("--request-timeout-s"),
      d.requestTimeoutMs / 1000,
    )
    .option("--idle-timeout-s <s>", "a connection silent this long is closed", positiveNumber("--idle-timeout-s"), d.idleTimeoutMs / 1000)
    .option("--no-log", "no structured logs (one JSON line per request and per finished edit, on stdout)")
    .action(async (o: ServeCliOptions) => {
      const token = tokenOf(o.token);
      if (o.headersTimeoutS > o.requestTimeoutS) throw new MgieError("INVALID_ARGUMENT", "--headers-timeout-s must not be over --request-timeout-s");
      const editor = await MgieEditor.load(o.model, { threads: o.threads });
      const { app, store } = await createServer(editor, {
        concurrency: o.concurrency,
        maxQueued: o.queue,
        token,
        deviceModelDir: o.model,
        maxImagePixels: o.maxPixels,
        maxImageBytes: o.maxUploadMb * 2 ** 20,
        dataDir: o.redis ? undefined : o.dataDir,
        redis: o.redis,
        keepFinishedMs: o.keepHours * 3600_000,
        diskBudgetBytes: o.diskBudgetMb * 2 ** 20,
        maxAttempts: o.maxAttempts,
        maxConnections: o.maxConnections,
        headersTimeoutMs: o.headersTimeoutS * 1000,
        requestTimeoutMs: o.requestTimeoutS * 1000,
        idleTimeoutMs: o.idleTimeoutS * 1000,
        logger: o.log,
        log: (line) => console.error(`mgie serve: ${line}`),
      });
      try {
        await app.listen({ host: o.host, port: o.port });
      } catch (cause) {
        await app.close();
        const code = (cause as NodeJS.ErrnoException).code;
        const why =
          code === "EADDRINUSE"
            ? "the port is in use: choose another --port"
            : code === "EACCES"
              ? "permission denied: ports below 1024 need privileges"
              : (cause as Error).message;
        throw new MgieError("LISTEN", `cannot listen on ${o.host}:${o.port}: ${why}`, { cause });
      }
      const address = app.server.address();
      const port = typeof address === "object" && address ? address.port : o.port;
      const host = o.host.includes(":") ? `[${o.host}]` : o.host;
      const m = editor.manifest;
      const where = o.redis ? `jobs on Redis ${o.redis}` : `jobs in ${o.dataDir}`;
      console.log(
        `mgie serve: http://${host}:${port}/ (model ${m.name}, ${m.resolution}x${m.resolution}; ${where}; API at /openapi.json${token ? "; bearer token required" : ""})`,
      );
      if (!token && !LOOPBACK.test(o.host)) {
        console.error(
          `mgie serve: warning: listening on ${o.host} without --token: only requests addressed to localhost/127.0.0.1/[::1] are answered (403 otherwise)`,
        );
      }
      if (store.kind === "local") {
        const s = await store.stats();
        if (s.queued > 0) console.error(`mgie serve: resuming ${s.queued + s.running} edit(s) left from the last run`);
      }

      stopOnSignals("mgie serve", () => app.close(), {
        finishing: "finishing running edits",
        again: "unfinished edits run at the next start",
      });
    });
}
