import multipart from "@fastify/multipart";
import Fastify, { type FastifyInstance } from "fastify";
import { bearerAuth } from "./auth.js";
import { createEditQueue, type Editor, type EditQueue } from "./editJobs.js";
import { MAX_FIELD_BYTES } from "./editSubmission.js";
import { errorReply } from "./httpErrors.js";
import { registerApiRoutes } from "./routes.js";
import { registerStaticFiles } from "./staticFiles.js";

export interface ServerOptions {
  /** Edits run at once (each runs the whole pipeline; on a small machine 1 is fastest overall). */
  concurrency: number;
  /** Edits that may wait; more are refused with 429 and Retry-After. */
  maxQueued: number;
  /** When set, every API route needs `Authorization: Bearer <token>` (the page's files do not). */
  token?: string;
  /** Largest upload, encoded. */
  maxImageBytes: number;
  /** Largest image, width x height, checked before it is decoded. */
  maxImagePixels: number;
  /** How long a finished edit and its image stay available. */
  keepFinishedMs: number;
  /** At most this many finished edits are kept (the oldest are dropped first). */
  maxFinished: number;
  /** On shutdown, how long running edits get to finish before they are cancelled. */
  shutdownGraceMs: number;
  /** Where unexpected errors (bugs) are reported; default: nowhere. */
  log?: (line: string) => void;
}

export const DEFAULT_SERVER_OPTIONS: ServerOptions = {
  concurrency: 1,
  maxQueued: 16,
  maxImageBytes: 20 * 1024 * 1024,
  maxImagePixels: 4096 * 4096,
  keepFinishedMs: 15 * 60_000,
  maxFinished: 256,
  shutdownGraceMs: 10_000,
};

export interface MgieServer {
  app: FastifyInstance;
  queue: EditQueue;
}

/** JSON carries the image in base64 (4 bytes per 3) next to a few short fields. */
function jsonBodyLimit(maxImageBytes: number): number {
  return Math.ceil(maxImageBytes / 3) * 4 + 64 * 1024;
}

/**
 * The mgie HTTP server, not yet listening: the API of routes.ts and the web page, one bounded
 * edit queue over one editor. Closing the app (app.close()) drains the queue first.
 */
export async function createServer(editor: Editor, options: Partial<ServerOptions> = {}): Promise<MgieServer> {
  const o: ServerOptions = { ...DEFAULT_SERVER_OPTIONS, ...options };
  const limits = { maxImageBytes: o.maxImageBytes, maxImagePixels: o.maxImagePixels };
  const queue = createEditQueue(
    editor,
    { concurrency: o.concurrency, maxQueued: o.maxQueued, keepFinishedMs: o.keepFinishedMs, maxFinished: o.maxFinished },
    o.log,
  );
  const app = Fastify({ logger: false, bodyLimit: jsonBodyLimit(o.maxImageBytes) });

  await app.register(multipart, {
    limits: { fileSize: o.maxImageBytes, files: 2, fields: 16, fieldSize: MAX_FIELD_BYTES, parts: 18 },
  });
  if (o.token) app.addHook("onRequest", bearerAuth(o.token));
  app.addHook("onSend", async (_request, reply) => {
    reply.header("x-content-type-options", "nosniff");
  });
  app.setErrorHandler((err, request, reply) => {
    const r = errorReply(err, o.maxImageBytes);
    if (r.status >= 500) o.log?.(`${request.method} ${request.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return reply.code(r.status).headers(r.headers).send(r.body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: { code: "NOT_FOUND", message: `no route ${request.method} ${request.url.split("?")[0]}; the API is described at /openapi.json` } }),
  );
  // Fastify answers new requests with 503 from here on; queued edits fail, running ones get a grace period.
  app.addHook("preClose", async () => queue.close(o.shutdownGraceMs));

  await registerStaticFiles(app);
  registerApiRoutes(app, { editor, queue, limits, keepFinishedMs: o.keepFinishedMs, tokenRequired: Boolean(o.token) });
  return { app, queue };
}
