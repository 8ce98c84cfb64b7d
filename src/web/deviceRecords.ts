import type { WebDevice } from "../platform/onnxWeb.js";

/** A measured choice of device, kept so that later visits skip the probe (see src/web/deviceChoice.ts). */
export interface DeviceRecord {
  device: WebDevice;
  /** Milliseconds of the probe edit on each device; null where WebGPU failed before it could be timed. */
  measured: { wasm: number; webgpu: number } | null;
  /** Why this device: the measurement, or how WebGPU failed. */
  reason: string;
}

/** What a record is kept under: the model (its manifest's sha256), the adapter, the threads and the browser. */
export interface RecordKey {
  modelSha256: string;
  adapter: string;
  threads: number;
}

/**
 * The choices made on this browser, in the Cache API (workers have no localStorage), each under a URL
 * beside the model's files that names what it depends on: a new model, another adapter, another number
 * of threads or another browser version measures again.
 */
export class DeviceRecords {
  private readonly cache: Promise<Cache | null>;

  /** `cacheName` null: nothing is kept, every load measures. */
  constructor(
    cacheName: string | null,
    private readonly modelUrl: string,
  ) {
    this.cache = cacheName !== null && globalThis.caches ? caches.open(cacheName).catch(() => null) : Promise.resolve(null);
  }

  async get(key: RecordKey): Promise<DeviceRecord | null> {
    const hit = await (await this.cache)?.match(this.url(key));
    if (!hit) return null;
    const r = (await hit.json().catch(() => null)) as Partial<DeviceRecord> | null;
    // A record this version cannot read is measured again.
    return r && (r.device === "wasm" || r.device === "webgpu") && typeof r.reason === "string" ? (r as DeviceRecord) : null;
  }

  async put(key: RecordKey, record: DeviceRecord): Promise<void> {
    await (await this.cache)?.put(this.url(key), new Response(JSON.stringify(record), { headers: { "content-type": "application/json" } })).catch(() => {
      // A full or refused cache only costs the next visit a probe.
    });
  }

  private url(key: RecordKey): string {
    const query = new URLSearchParams({
      model: key.modelSha256,
      adapter: key.adapter,
      threads: String(key.threads),
      browser: globalThis.navigator?.userAgent ?? "",
    });
    return new URL(`device-choice?${query}`, this.modelUrl).href;
  }
}
