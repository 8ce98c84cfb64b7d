import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import multipart from "@fastify/multipart";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from "fastify";
import { ByteBudget, loopbackOnly, Slots } from "./admission.js";
import { bearerAuth, checkToken } from "./auth.js";
import { type Editor, runEdit } from "./editJobs.js";
import { MAX_FIELD_BYTES } from "./editSubmission.js";
import { ApiError, errorReply } from "./httpErrors.js";
import type { JobRecord, JobStore } from "./jobStore.js";
import { LocalJobStore } from "./localStore.js";
import { ServerMetrics } from "./metrics.js";
import { registerApiRoutes } from "./routes.js";
import { registerStaticFiles } from "./staticFiles.js";

export interface ServerOptions {
  /** Edits run at once by this process (single-machine store; with Redis the workers run them). */
  concurrency: number;
  /** Edits that may wait; more are refused with 429 and Retry-After. */
  maxQueued: number;
  /** When set, every API route needs `Authorization: Bearer <token>` (the page's files do not). Empty or blank: refused. */
  token?: string;
  /** The model folder whose files the page may fetch to edit on the device (docs/WEB.md); unset: the page edits on the server only. */
  deviceModelDir?: string;
  /** Largest upload, encoded. */
  maxImageBytes: number;
  /** Largest image, width x height, checked before it is decoded. */
  maxImagePixels: number;
  /** Where jobs, uploads and results live (single-machine store); default: a new temporary directory, removed on close. */
  dataDir?: string;
  /** A Redis URL: jobs go on its queue for `mgie worker` processes instead of running here. */
  redis?: string;
  /** How long a finished edit and its image stay available. */
  keepFinishedMs: number;
  /** Most bytes uploads and results may take in the data directory; the oldest results go first. */
  diskBudgetBytes: number;
  /** Tries of an edit whose process died (or that failed unexpectedly) before it fails for good. */
  maxAttempts: number;
  /** On shutdown, how long running edits get to finish before they are cut off (and left queued). */
  shutdownGraceMs: number;
  /** Uploads decoded at once to check them (a 4096x4096 image takes about 250 MB while it is). */
  decodeSlots: number;
  /** Uploads that may wait for a decode slot; more get 429. */
  maxWaitingDecodes: number;
  /** Request bodies (declared sizes) in flight at once, in bytes; more get 429. */
  maxBytesInFlight: number;
  /** Open connections at once; more are closed as they come. */
  maxConnections: number;
  /** A client must send its request headers within this. */
  headersTimeoutMs: number;
  /** ...and its whole request (headers and body) within this. */
  requestTimeoutMs: number;
  /** A connection with no traffic this long is closed (event streams send a comment every 15 s). */
  idleTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Structured JSON logs (one line per request and per finished edit, with their ids) to stdout. */
  logger: boolean;
  /** Where unexpected errors (bugs) are reported when `logger` is off; default: nowhere. */
  log?: (line: string) => void;
}

export const DEFAULT_SERVER_OPTIONS: ServerOptions = {
  concurrency: 1,
  maxQueued: 16,
  maxImageBytes: 20 * 1024 * 1024,
  maxImagePixels: 4096 * 4096,
  keepFinishedMs: 24 * 3600_000,
  diskBudgetBytes: 2 * 1024 ** 3,
  maxAttempts: 3,
  shutdownGraceMs: 10_000,
  decodeSlots: 1,
  maxWaitingDecodes: 64,
  maxBytesInFlight: 256 * 1024 ** 2,
  maxConnections: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  idleTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  logger: false,
};

export interface MgieServer {
  app: FastifyInstance;
  store: JobStore;
  metrics: ServerMetrics;
}

/** JSON carries the image in base64 (4 bytes per 3) next to a few short fields. */
function jsonBodyLimit(maxImageBytes: number): number {
  return Math.ceil(maxImageBytes / 3) * 4 + 64 * 1024;
}

/**
 * The mgie HTTP server, not yet listening: the API of routes.ts and the web page over a job store
 * (the single-machine one in `dataDir`, or Redis). Closing the app (app.close()) closes the store.
 */
export async function createServer(editor: Editor, options: Partial<ServerOptions> = {}): Promise<MgieServer> {
  const o: ServerOptions = { ...DEFAULT_SERVER_OPTIONS, ...options };
  if (o.token !== undefined) checkToken(o.token);
  if (o.headersTimeoutMs > o.requestTimeoutMs) throw new RangeError("headersTimeoutMs must not be over requestTimeoutMs");
  const limits = { maxImageBytes: o.maxImageBytes, maxImagePixels: o.maxImagePixels };
  const app = Fastify({
    logger: o.logger ? { level: "info" } : false,
    genReqId: () => randomUUID(),
    bodyLimit: jsonBodyLimit(o.maxImageBytes),
    // Slow clients: Node checks these every second (its default, 30 s, would let them overstay).
    http: { headersTimeout: o.headersTimeoutMs, requestTimeout: o.requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, o.headersTimeoutMs) },
    requestTimeout: o.requestTimeoutMs,
    connectionTimeout: o.idleTimeoutMs,
    keepAliveTimeout: o.keepAliveTimeoutMs,
    return503OnClosing: false,
    // Closing waits for running edits (the shutdown grace): more than Fastify's 10 s for a hook by default.
    pluginTimeout: o.shutdownGraceMs + 10_000,
    // Errors raised before routing (a malformed URL): the same JSON body as every other error.
    frameworkErrors: (err, _request, reply) => {
      const r = errorReply(err, o.maxImageBytes);
      (reply as FastifyReply).code(r.status).headers(r.headers).send(r.body);
    },
  });
  app.server.maxConnections = o.maxConnections;
  const logBug = (line: string, log?: FastifyBaseLogger) => (o.logger ? (log ?? app.log).error(line) : o.log?.(line));

  let metrics: ServerMetrics | undefined;
  const onFinished = (job: JobRecord) => {
    metrics?.finished(job);
    if (o.logger) app.log.info({ jobId: job.id, status: job.status, attempts: job.attempts, error: job.error?.code, ms: job.timings?.total }, "edit finished");
  };
  let store: JobStore;
  /** The data directory made for this server when none was given: removed when it closes. */
  let temporaryDir: string | undefined;
  if (o.redis) {
    // Loaded only when asked for: the single-machine server does not pay for BullMQ and ioredis.
    const { RedisJobStore } = await import("./redisStore.js");
    store = await RedisJobStore.open(o.redis, {
      maxQueued: o.maxQueued,
      keepFinishedMs: o.keepFinishedMs,
      maxAttempts: o.maxAttempts,
      onFinished,
      log: logBug,
    });
  } else {
    if (o.dataDir === undefined) temporaryDir = await mkdtemp(join(tmpdir(), "mgie-serve-"));
    const dataDir = o.dataDir ?? temporaryDir!;
    store = await LocalJobStore.open(dataDir, (job, upload, context) => runEdit(editor, job.params, upload, { ...context, log: (line) => logBug(line) }), {
      concurrency: o.concurrency,
      maxQueued: o.maxQueued,
      keepFinishedMs: o.keepFinishedMs,
      diskBudgetBytes: o.diskBudgetBytes,
      maxAttempts: o.maxAttempts,
      onFinished,
      log: logBug,
    });
  }
  metrics = new ServerMetrics(store);

  await app.register(multipart, {
    limits: { fileSize: o.maxImageBytes, files: 2, fields: 16, fieldSize: MAX_FIELD_BYTES, parts: 18, headerPairs: 64 },
  });
  let closing = false;
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
    if (closing) throw new ApiError(503, "SHUTTING_DOWN", "the server is shutting down; try again when it is back");
  });
  if (o.token) app.addHook("onRequest", bearerAuth(o.token));
  else app.addHook("onRequest", loopbackOnly());
  app.addHook("onSend", async (_request, reply) => {
    reply.header("x-content-type-options", "nosniff");
  });
  app.setErrorHandler((err, request, reply) => {
    const r = errorReply(err, o.maxImageBytes);
    if (r.status >= 500 && r.body.error.code === "INTERNAL") {
      logBug(`${request.method} ${request.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, request.log);
    }
    if (r.status === 403 || r.status === 429) metrics?.refused(r.body.error.code.toLowerCase());
    return reply.code(r.status).headers(r.headers).send(r.body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: { code: "NOT_FOUND", message: `no route ${request.method} ${request.url.split("?")[0]}; the API is described at /openapi.json` } }),
  );
  await registerStaticFiles(app, o.deviceModelDir);
  const routes = registerApiRoutes(app, {
    editor,
    store,
    metrics,
    limits,
    keepFinishedMs: o.keepFinishedMs,
    tokenRequired: Boolean(o.token),
    decodes: new Slots(o.decodeSlots, o.maxWaitingDecodes),
    bytesInFlight: new ByteBudget(o.maxBytesInFlight),
    maxRequestBytes: jsonBodyLimit(o.maxImageBytes),
  });
  // New requests get 503 from here on; running edits get a grace period, then waiting clients are answered.
  app.addHook("preClose", async () => {
    closing = true;
    await store.close(o.shutdownGraceMs);
    routes.stopWaiting();
    if (temporaryDir) await rm(temporaryDir, { recursive: true, force: true });
  });
  return { app, store, metrics };
}
