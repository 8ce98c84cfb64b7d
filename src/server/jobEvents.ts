import type { FastifyReply } from "fastify";
import { type EditJob, type EditQueue, jobView } from "./editJobs.js";

/** A comment line this often keeps proxies and browsers from closing an idle stream. */
const KEEP_ALIVE_MS = 15_000;

/**
 * Streams a job's life as Server-Sent Events:
 *   `status`   (the job view) on connect, and whenever the status or queue position changes;
 *   `progress` ({stage, step?, steps?}) as the edit goes;
 *   `done` or `failed` (the job view) last, after which the server ends the stream.
 * The first event is the current state, so a subscriber that comes after the end still gets it.
 */
export function streamJobEvents(reply: FastifyReply, job: EditJob, queue: EditQueue): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    "x-accel-buffering": "no", // no buffering in a reverse proxy such as nginx
    "x-content-type-options": "nosniff",
  });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const isFinished = (j: EditJob) => j.status === "done" || j.status === "failed";

  send("status", jobView(job, queue));
  if (isFinished(job)) {
    send(job.status, jobView(job, queue));
    res.end();
    return;
  }
  const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), KEEP_ALIVE_MS);
  const stop = () => {
    clearInterval(keepAlive);
    unsubscribe();
  };
  const unsubscribe = queue.subscribe(job.id, (j, event) => {
    if (event.type === "progress") {
      send("progress", event.progress);
    } else if (isFinished(j)) {
      send(j.status, jobView(j, queue));
      stop();
      res.end();
    } else {
      send("status", jobView(j, queue));
    }
  });
  res.on("close", stop); // the client went away, or the stream ended
}
