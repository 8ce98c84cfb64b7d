import type { FastifyReply } from "fastify";
import { jobView } from "./editJobs.js";
import { isFinished, type JobRecord, type JobStore } from "./jobStore.js";

/** A comment line this often keeps proxies and browsers from closing an idle stream. */
const KEEP_ALIVE_MS = 15_000;

/**
 * Streams a job's life as Server-Sent Events:
 *   `status`   (the job view) on connect, and whenever the status or queue position changes;
 *   `progress` ({stage, step?, steps?}) as the edit goes;
 *   `done` or `failed` (the job view) last, after which the server ends the stream.
 * The first event is the current state, so a subscriber that comes after the end still gets it.
 * It subscribes before it reads that state, so no change in between is missed.
 */
export async function streamJobEvents(reply: FastifyReply, job: JobRecord, store: JobStore): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    "x-accel-buffering": "no", // no buffering in a reverse proxy such as nginx
    "x-content-type-options": "nosniff",
    "x-request-id": String(reply.request.id),
  });
  let ended = false;
  const send = (event: string, data: unknown) => {
    if (!ended) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  // Views are built in order, one at a time (building one may ask the store for the queue position).
  let first = true;
  let last = "";
  const sendView = (j: JobRecord) => {
    chain = chain.then(async () => {
      if (ended) return;
      const view = await jobView(j, store);
      const text = JSON.stringify(view);
      if (first || (!isFinished(j) && text !== last)) send("status", view);
      first = false;
      last = text;
      if (isFinished(j)) {
        send(j.status, view);
        end();
      }
    });
  };
  const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), KEEP_ALIVE_MS);
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(keepAlive);
    unsubscribe();
    res.end();
  };
  let chain: Promise<void> = Promise.resolve();
  const unsubscribe = store.subscribe(job.id, (j, event) => {
    if (event.type === "progress") chain = chain.then(() => send("progress", event.progress));
    else sendView(j);
  });
  res.on("close", end); // the client went away, or the stream ended
  // The current state first: any event that comes meanwhile waits behind it in the chain.
  chain = chain.then(async () => {
    const now = await store.get(job.id);
    sendView(typeof now === "object" ? now : job);
  });
  await chain;
}
