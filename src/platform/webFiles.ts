import { MgieError } from "../errors.js";
import { ModelDirError } from "../models/modelDir.js";
import type { ModelFiles } from "../models/modelFiles.js";

/** How a model's download stands: bytes of the files asked for so far, and how many of them came over the network. */
export interface DownloadProgress {
  /** Bytes read (from the network or the cache). */
  loaded: number;
  /** Bytes of every file asked for so far (the manifests give the sizes). */
  total: number;
  /** Of `loaded`, the bytes fetched over the network (0 when everything came from the cache). */
  fetched: number;
  /** The file being read. */
  file: string;
}

/** The Cache API cache of the model's files (and of the device chosen for it) unless told otherwise. */
export const DEFAULT_CACHE_NAME = "mgie-models";

export interface DownloadOptions {
  /** The Cache API cache the files are kept in (null: none). Default "mgie-models". */
  cacheName?: string | null;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
}

/**
 * The files of one model load: each fetched with progress, checked against its manifest's size and
 * sha256 (WebCrypto), kept in the Cache API under its URL and hash so that a later visit reads it from
 * there (and a new model, with new hashes, is fetched again). Needs a secure context (https or localhost).
 */
export class ModelDownload {
  private loaded = 0;
  private total = 0;
  private fetched = 0;
  private readonly cache: Promise<Cache | null>;
  /**
   * Every read of this load, by URL: a load that opens the model twice (on WebAssembly and on WebGPU, to
   * measure them; src/web/deviceChoice.ts) fetches, checks and hashes each file once.
   */
  private readonly reads = new Map<string, Promise<string | Uint8Array>>();

  constructor(private readonly options: DownloadOptions = {}) {
    const name = options.cacheName === undefined ? DEFAULT_CACHE_NAME : options.cacheName;
    if (!globalThis.crypto?.subtle) {
      throw new MgieError(
        "INSECURE_CONTEXT",
        "editing on this device needs a secure page (https, or http on localhost) to check the model's files: open it so",
      );
    }
    this.cache = name !== null && globalThis.caches ? caches.open(name).catch(() => null) : Promise.resolve(null);
  }

  /** The model folder at `url` (its manifest.json is `url` + "manifest.json"). */
  folder(url: string | URL): ModelFiles {
    return new WebModelFiles(folderUrl(new URL(url, globalThis.location?.href)), this);
  }

  /** What has been read so far. */
  progress(file = ""): DownloadProgress {
    return { loaded: this.loaded, total: this.total, fetched: this.fetched, file };
  }

  text(url: string): Promise<string> {
    return this.once(url, async () => {
      // The manifest is always asked for again (no-cache: the server may answer 304): it says whether the model changed.
      const response = await this.fetch(url, "no-cache");
      return response.text();
    });
  }

  checked(url: string, bytes: number | null, sha256: string, what: string): Promise<Uint8Array> {
    return this.once(`${url}?sha256=${sha256}`, () => this.read(url, bytes, sha256, what));
  }

  private once<T extends string | Uint8Array>(key: string, read: () => Promise<T>): Promise<T> {
    let pending = this.reads.get(key);
    if (!pending) {
      pending = read();
      this.reads.set(key, pending);
      // A failed read may be tried again.
      pending.catch(() => this.reads.delete(key));
    }
    return pending as Promise<T>;
  }

  private async read(url: string, bytes: number | null, sha256: string, what: string): Promise<Uint8Array> {
    // A query, not a fragment: the Cache API ignores fragments when it matches.
    const key = `${url}?sha256=${sha256}`;
    if (bytes !== null) this.total += bytes;
    const cache = await this.cache;
    const hit = await cache?.match(key);
    if (hit) {
      const data = new Uint8Array(await hit.arrayBuffer());
      if ((bytes === null || data.length === bytes) && (await hexSha256(data)) === sha256) {
        this.fromCache(url, data.length, bytes);
        return data;
      }
      await cache?.delete(key);
    }
    const data = await this.download(url, bytes, what);
    if (bytes !== null && data.length !== bytes) {
      throw new ModelDirError(
        `${url} is ${data.length} bytes, the manifest says ${bytes}: the file is truncated or replaced; serve the model's files as they are`,
      );
    }
    if ((await hexSha256(data)) !== sha256)
      throw new ModelDirError(`${url} does not match the sha256 in the manifest: the file is corrupt or from another model`);
    if (cache) {
      await cache.put(key, new Response(data as Uint8Array<ArrayBuffer>)).catch(() => {
        // A full or refused cache only costs the next visit the download.
      });
      await prune(cache, url, key);
    }
    return data;
  }

  private async fetch(url: string, mode: RequestCache): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(url, { cache: mode, signal: this.options.signal });
    } catch (cause) {
      if (this.options.signal?.aborted) throw new MgieError("ABORTED", "the model's download was cancelled");
      throw new ModelDirError(`cannot fetch ${url}: ${(cause as Error).message}`, { cause });
    }
    if (!response.ok) throw new ModelDirError(`cannot fetch ${url}: the server answered ${response.status} ${response.statusText}`);
    return response;
  }

  /** The file's bytes over the network, counted as they arrive. */
  private async download(url: string, bytes: number | null, what: string): Promise<Uint8Array> {
    let response: Response;
    try {
      response = await this.fetch(url, "no-store");
    } catch (cause) {
      if (cause instanceof ModelDirError) throw new ModelDirError(`the model's ${what} is missing: ${cause.message}`, { cause });
      throw cause;
    }
    if (!response.body) return new Uint8Array(await response.arrayBuffer());
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = response.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
      this.loaded += value.length;
      this.fetched += value.length;
      this.options.onProgress?.(this.progress(url));
    }
    if (bytes === null) this.total += size;
    const data = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      data.set(c, at);
      at += c.length;
    }
    return data;
  }

  private fromCache(url: string, size: number, bytes: number | null): void {
    if (bytes === null) this.total += size;
    this.loaded += size;
    this.options.onProgress?.(this.progress(url));
  }
}

/** A model folder served over HTTP. */
class WebModelFiles implements ModelFiles {
  constructor(
    readonly location: string,
    private readonly download: ModelDownload,
  ) {}

  where(file: string): string {
    return new URL(file, this.location).href;
  }

  readText(file: string): Promise<string> {
    return this.download.text(this.where(file));
  }

  readChecked(file: string, bytes: number | null, sha256: string, what: string): Promise<Uint8Array> {
    return this.download.checked(this.where(file), bytes, sha256, what);
  }

  folder(path: string): ModelFiles {
    return new WebModelFiles(folderUrl(new URL(path, this.location)), this.download);
  }
}

function folderUrl(url: URL): string {
  return url.href.endsWith("/") ? url.href : `${url.href}/`;
}

/** The SHA-256 of `data` in hex (WebCrypto). */
export async function hexSha256(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Drops the cached copies of `url` under other hashes (an older model's). */
async function prune(cache: Cache, url: string, keep: string): Promise<void> {
  for (const request of await cache.keys()) {
    const u = request.url;
    if (u !== keep && u.startsWith(`${url}?sha256=`)) await cache.delete(request);
  }
}
