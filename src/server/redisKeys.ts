import { Redis } from "ioredis";
import { MgieError } from "../errors.js";
import type { JobRecord } from "./jobStore.js";

/**
 * What the API processes and the workers share in Redis (besides BullMQ's own keys, under `bull:`):
 *   mgie:job:<id>            the JobRecord, JSON (expires keepFinishedMs after the job finished)
 *   mgie:upload:<id>:image   the upload (and :mask), deleted when the job finishes
 *   mgie:result:<id>         the result PNG (expires with the record)
 *   mgie:expired:<id>        tombstone: the id finished and expired (410 rather than 404) for a week
 *   mgie:events              pub/sub: {"id", "type": "status"} or {"id", "type": "progress", "progress"}
 *   mgie:cancel              pub/sub: the id of a running job to abort
 */
export const QUEUE_NAME = "mgie-edits";
export const EVENTS_CHANNEL = "mgie:events";
export const CANCEL_CHANNEL = "mgie:cancel";
export const TOMBSTONE_MS = 7 * 24 * 3600_000;
export const keys = {
  job: (id: string) => `mgie:job:${id}`,
  upload: (id: string, part: "image" | "mask") => `mgie:upload:${id}:${part}`,
  result: (id: string) => `mgie:result:${id}`,
  expired: (id: string) => `mgie:expired:${id}`,
};

/** A BullMQ job's data: the id of its record, and how long the API that accepted it keeps the outcome. */
export interface EditJobData extends RedisJobSettings {
  id: string;
}

/** How long a job's outcome is kept (set by the API process that accepts it). */
export interface RedisJobSettings {
  /** How long a finished edit and its image stay available. */
  keepFinishedMs: number;
}

/**
 * Writes a record unless the stored one is already finished (done or failed): a late writer (a
 * worker that lost its lock, an API process noticing a failure) never overwrites an outcome.
 * ARGV: the record JSON, and its time to live in ms (0: none). Returns 1 when written.
 */
const SET_UNLESS_FINISHED = `
local cur = redis.call('GET', KEYS[1])
if cur and (string.find(cur, '"status":"done"', 1, true) or string.find(cur, '"status":"failed"', 1, true)) then return 0 end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) else redis.call('SET', KEYS[1], ARGV[1]) end
return 1`;

export function connect(url: string, role: string): Redis {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new MgieError("REDIS_URL", `--redis must be a URL such as redis://127.0.0.1:6379, got '${url}'`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:")
    throw new MgieError("REDIS_URL", `--redis must be a redis:// or rediss:// URL, got '${url}'`);
  // BullMQ needs maxRetriesPerRequest null on the connections its workers block on.
  const redis = new Redis(url, { maxRetriesPerRequest: null, connectionName: `mgie-${role}-${process.pid}`, lazyConnect: true });
  redis.defineCommand("setUnlessFinished", { numberOfKeys: 1, lua: SET_UNLESS_FINISHED });
  // ioredis reconnects by itself; the last error says why when a command fails meanwhile.
  redis.on("error", (err: Error) => lastErrors.set(redis, err));
  return redis;
}

const lastErrors = new WeakMap<Redis, Error>();

/** Connects, or says why not in one line. */
export async function connectOrExplain(redis: Redis, url: string): Promise<void> {
  try {
    await redis.connect();
    await redis.ping();
  } catch (cause) {
    redis.disconnect();
    const why = (lastErrors.get(redis) ?? (cause as Error)).message;
    throw new MgieError("REDIS", `cannot reach Redis at ${url}: ${why}; start redis-server or fix --redis`, { cause });
  }
}

export async function readRecord(redis: Redis, id: string): Promise<JobRecord | undefined> {
  const text = await redis.get(keys.job(id));
  return text === null ? undefined : (JSON.parse(text) as JobRecord);
}

/** Writes the record (unless it is finished already); a finished one expires, and leaves a tombstone. */
export async function writeRecord(redis: Redis, job: JobRecord, settings: RedisJobSettings): Promise<boolean> {
  const finished = job.status === "done" || job.status === "failed";
  const ttl = finished ? Math.max(1, settings.keepFinishedMs) : 0;
  const { progress: _, ...stored } = job;
  const written = (await (redis as Redis & { setUnlessFinished(key: string, json: string, ttl: number): Promise<number> }).setUnlessFinished(
    keys.job(job.id),
    JSON.stringify(stored),
    ttl,
  )) as number;
  if (written === 1 && finished) {
    await redis.set(keys.expired(job.id), String(Date.now() + ttl), "PX", ttl + TOMBSTONE_MS);
    await redis.del(keys.upload(job.id, "image"), keys.upload(job.id, "mask"));
  }
  if (written === 1) await redis.publish(EVENTS_CHANNEL, JSON.stringify({ id: job.id, type: "status" }));
  return written === 1;
}
