import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, utimes } from "node:fs/promises";
import { availableParallelism, cpus, homedir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { adaptSession, type OnnxBackend, type OnnxSession } from "../models/backend.js";
import { checkedSha256 } from "./nodeFiles.js";

type SessionOptions = ort.InferenceSession.SessionOptions;

// onnxruntime-node 1.30 carries Microsoft's 1DS telemetry: unless ORT_DISABLE_TELEMETRY is set when its
// environment starts (at the first session), it keeps a device id and an event database under
// ~/.cache/Microsoft/DeveloperTools/.onnxruntime, writes a mat-debug-<pid>.log to the temporary folder,
// and uploads events over HTTPS where it finds a CA bundle. mgie sends nothing off the machine, so it is
// off unless the user sets the variable themselves (test/telemetry.test.ts).
process.env.ORT_DISABLE_TELEMETRY ??= "1";

/**
 * One ONNX Runtime session per component, created once and reused for every call.
 *
 * Graph optimisation (level "all") is most of the cost of creating a session, and ONNX Runtime does
 * it on the calling thread. So the optimised graph is kept in a cache folder (see
 * optimizedModelCacheDir) the first time, and later processes load it with no further
 * optimisation: the same graph, the same kernels, bit-identical outputs, in about half the time.
 * The cache is keyed by the model's sha256, the ONNX Runtime version and the CPU (the optimised
 * graph may use a layout for this CPU's vector width); each file carries its own sha256 in its name
 * and is checked on reading. Any problem with the cache (unwritable, corrupt, refused by ONNX Runtime)
 * falls back to optimising the model as before.
 */
export async function createSession(bytes: Uint8Array, threads?: number): Promise<ort.InferenceSession> {
  const options: SessionOptions = {
    intraOpNumThreads: threads ?? availableParallelism(),
    interOpNumThreads: 1,
    executionMode: "sequential",
    // Each session has its own pool of intra-op threads, and an edit goes from one session to the next
    // (embed, lm, edit head, VAE, UNet...): pools left spinning after their run took the cores from the
    // next session's run. Without spinning an edit takes half the time on 2 cores (docs/EXPERIMENTS.md,
    // "Start-up of a one-shot edit"); the arithmetic, and so every output, is the same.
    extra: { session: { "intra_op.allow_spinning": "0" } },
  };
  const dir = optimizedModelCacheDir();
  if (dir === null) return ort.InferenceSession.create(bytes, { ...options, graphOptimizationLevel: "all" });
  const key = await cacheKey(bytes);
  const cached = await readCached(dir, key);
  if (cached) {
    try {
      return await ort.InferenceSession.create(cached.bytes, { ...options, graphOptimizationLevel: "disabled" });
    } catch {
      await rm(cached.path, { force: true }).catch(() => {});
    }
  }
  const tmp = join(dir, `${key}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
  let session: ort.InferenceSession;
  try {
    await mkdir(dir, { recursive: true });
    // logSeverityLevel 3: no warning that the saved graph is specific to this CPU (the key says so).
    session = await ort.InferenceSession.create(bytes, { ...options, graphOptimizationLevel: "all", optimizedModelFilePath: tmp, logSeverityLevel: 3 });
  } catch {
    // An unusable cache folder costs only the optimisation; an error of the model itself is raised here.
    await rm(tmp, { force: true }).catch(() => {});
    return ort.InferenceSession.create(bytes, { ...options, graphOptimizationLevel: "all" });
  }
  try {
    const written = await readFile(tmp);
    // The rename is atomic: a process reading the cache sees a whole file or none.
    await rename(tmp, join(dir, `${key}-${sha256(written)}.onnx`));
    await prune(dir);
  } catch {
    // A full or read-only cache only costs the next process the optimisation.
  } finally {
    await rm(tmp, { force: true }).catch(() => {});
  }
  return session;
}

/** Files of the cache unused for this long are removed when a new one is written (models come and go). */
const CACHE_MAX_AGE_MS = 30 * 24 * 3600 * 1000;

async function prune(dir: string): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const age = now - (await stat(path).catch(() => ({ mtimeMs: now }))).mtimeMs;
    // A temporary file an hour old was left by a process that died while writing it.
    if ((name.endsWith(".tmp") && age > 3600 * 1000) || (name.endsWith(".onnx") && age > CACHE_MAX_AGE_MS)) await rm(path, { force: true });
  }
}

/**
 * The folder of optimised models: $MGIE_CACHE_DIR, else $XDG_CACHE_HOME/mgie, else ~/.cache/mgie;
 * null (no cache) when MGIE_CACHE_DIR is "off" or there is no home folder.
 */
export function optimizedModelCacheDir(): string | null {
  const env = process.env.MGIE_CACHE_DIR;
  if (env === "off") return null;
  if (env) return join(env, "onnx");
  if (process.env.XDG_CACHE_HOME) return join(process.env.XDG_CACHE_HOME, "mgie", "onnx");
  const home = homedir();
  return home ? join(home, ".cache", "mgie", "onnx") : null;
}

let cpuId: Promise<string> | null = null;

/** What the optimised graph depends on: the model, ONNX Runtime, the optimisation level, the CPU. */
async function cacheKey(bytes: Uint8Array): Promise<string> {
  cpuId ??= readFile("/proc/cpuinfo", "utf8").then(
    (text) => [/^model name.*$/m, /^(flags|Features).*$/m].map((re) => re.exec(text)?.[0] ?? "").join("\n"),
    () => cpus()[0]?.model ?? "",
  );
  const what = [
    checkedSha256(bytes) ?? sha256(bytes),
    `onnxruntime ${ort.env.versions.node ?? ort.env.versions.common}`,
    "all",
    process.platform,
    process.arch,
    await cpuId,
  ];
  return `${createHash("sha256").update(what.join("\n")).digest("hex").slice(0, 32)}`;
}

/** The cached optimised model of a key, if there is one whose bytes match the sha256 in its name. */
async function readCached(dir: string, key: string): Promise<{ path: string; bytes: Buffer } | null> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.startsWith(`${key}-`) && n.endsWith(".onnx"));
  } catch {
    return null;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      const bytes = await readFile(path);
      if (`${key}-${sha256(bytes)}.onnx` === name) {
        // Its time of last use, for prune.
        const now = new Date();
        await utimes(path, now, now).catch(() => {});
        return { path, bytes };
      }
      await rm(path, { force: true });
    } catch {
      // Unreadable: optimise again.
    }
  }
  return null;
}

/** SHA-256 in hex. (WebCrypto's digest would hash on libuv's pool, but first copies the bytes on the main thread: slower here.) */
function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A session run on the float32 data of its outputs (the outputs' native tensors are disposed once read). */
function wrap(session: ort.InferenceSession): OnnxSession {
  return adaptSession(
    session,
    (t) => new ort.Tensor(t.type, t.data, t.dims),
    (t: ort.Tensor) => {
      const data = t.data as Float32Array;
      t.dispose?.();
      return data;
    },
  );
}

/** The editing core's ONNX backend in Node: sessions on onnxruntime-node with `threads` intra-op threads (default: one per core). */
export function nodeOnnx(threads?: number): OnnxBackend {
  return { createSession: async (bytes) => wrap(await createSession(bytes, threads)) };
}
