import { MgieError } from "../errors.js";
import type { RgbImage } from "../image/raster.js";
import type { ModelFiles } from "../models/modelFiles.js";
import { closeModel, EditPipeline, type OpenedModel } from "../pipeline/editPipeline.js";
import type { WebDevice } from "../platform/onnxWeb.js";
import { hexSha256 } from "../platform/webFiles.js";
import { type DeviceRecord, DeviceRecords, type RecordKey } from "./deviceRecords.js";

/** Where the editor is asked to run: "auto" measures WebGPU against WebAssembly where the browser offers WebGPU. */
export type DeviceRequest = "auto" | WebDevice;

/** Where the editor's sessions run, and why. */
export interface DeviceChoice {
  device: WebDevice;
  /** WebAssembly threads. */
  threads: number;
  /** The WebGPU adapter the browser offered ("google swiftshader"); null when it offered none or none was asked for. */
  adapter: string | null;
  /** Milliseconds of the probe edit on each device, where both were measured (now or on an earlier visit). */
  measured: { wasm: number; webgpu: number } | null;
  /** Whether the choice was read from an earlier visit's record, without measuring. */
  remembered: boolean;
  /** Why this device, in words ("WebGPU measured 3.1 s against 412 ms", "this browser offers no WebGPU"). */
  reason: string;
}

export interface ChoiceOptions {
  request: DeviceRequest;
  threads: number;
  /** The model's folder: its manifest's sha256 names the record of the choice. */
  files: ModelFiles;
  /** The Cache API cache the choice is kept in (null: none, every load measures). */
  cacheName: string | null;
  /** Measure software adapters (SwiftShader) too; by default "auto" leaves them out, unmeasured. */
  measureSoftwareAdapters: boolean;
  /** Called as each device's probe starts. */
  onMeasure?: (device: WebDevice) => void;
}

/** The probe: one edit of a built-in picture at the model's resolution, timed on each device after a first run. */
const PROBE_INSTRUCTION = "make it look like night";
const PROBE_SEED = 1;
/**
 * How far WebGPU's probe edit may be from WebAssembly's (mean, of 255) before WebGPU is taken for broken:
 * float32 kernels summing in another order differ by a level or so (docs/WEB.md); a kernel computing
 * something else differs by far more.
 */
const PROBE_TOLERANCE = 2;

interface Adapter {
  /** Vendor and architecture, for people. */
  name: string;
  /** Everything the browser says of it, for the record's key. */
  key: string;
  /** A GPU emulated on the CPU (SwiftShader): WebAssembly SIMD on the same cores is all but certain to be faster. */
  software: boolean;
}

/** The slice of WebGPU (navigator.gpu) this module asks about; TypeScript's lib has no WebGPU types. */
interface Gpu {
  requestAdapter(): Promise<{
    info?: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter?: boolean };
    isFallbackAdapter?: boolean;
  } | null>;
}

/** The browser's WebGPU adapter, or why there is none. */
async function findAdapter(): Promise<Adapter | { missing: string }> {
  const gpu = (globalThis.navigator as { gpu?: Gpu } | undefined)?.gpu;
  if (!gpu) return { missing: "this browser has no WebGPU" };
  const adapter = await gpu.requestAdapter().catch(() => null);
  // Chromium has navigator.gpu but no adapter where it finds no usable GPU (headless, without --enable-unsafe-webgpu).
  if (!adapter) return { missing: "this browser offers no WebGPU adapter" };
  const info = adapter.info ?? { vendor: "", architecture: "", device: "", description: "" };
  return {
    name: `${info.vendor} ${info.architecture}`.trim() || info.description || "an unnamed adapter",
    key: [info.vendor, info.architecture, info.device, info.description].join("/"),
    software: (info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false) || info.architecture === "swiftshader",
  };
}

/** "412 ms", "3.1 s". */
function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** What the editor runs on and why, for the page's status line: "WebAssembly, 2 threads (WebGPU measured 3.1 s against 412 ms)". */
export function describeDevice(choice: DeviceChoice): string {
  const name = choice.device === "webgpu" ? `WebGPU, ${choice.adapter}` : `WebAssembly, ${choice.threads} thread${choice.threads > 1 ? "s" : ""}`;
  return `${name} (${choice.reason}${choice.remembered ? ", on an earlier visit" : ""})`;
}

/** A picture every model can edit: colour gradients and a disc, at the model's resolution. */
function probeImage(size: number): RgbImage {
  const data = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const disc = (x - size / 2) ** 2 + (y - size / 2) ** 2 < (size / 4) ** 2;
      data.set([x / size, y / size, disc ? 0.9 : 0.2], (y * size + x) * 3);
    }
  }
  return { width: size, height: size, data };
}

interface Probe {
  ms: number;
  expressive: string;
  pixels: Float32Array;
}

async function probe(opened: OpenedModel): Promise<Probe> {
  const pipeline = new EditPipeline(opened);
  const image = probeImage(opened.model.manifest.resolution);
  const edit = () => pipeline.edit(image, PROBE_INSTRUCTION, { seed: PROBE_SEED, fullSize: false });
  // Not timed: the first run compiles WebGPU's shaders and warms WebAssembly's caches, once per page.
  await edit();
  const started = performance.now();
  const r = await edit();
  return { ms: performance.now() - started, expressive: r.expressiveInstruction, pixels: r.modelImage.data };
}

/** How WebGPU's probe edit differs from WebAssembly's beyond float32's reordering, or null when it does not. */
function mismatch(wasm: Probe, webgpu: Probe): string | null {
  if (wasm.expressive !== webgpu.expressive) return `read the probe as "${webgpu.expressive}", WebAssembly as "${wasm.expressive}"`;
  let total = 0;
  for (let i = 0; i < wasm.pixels.length; i++) total += Math.abs(wasm.pixels[i] - webgpu.pixels[i]);
  const mean = (total / wasm.pixels.length) * 255;
  return mean > PROBE_TOLERANCE ? `edited the probe ${mean.toFixed(1)}/255 away from WebAssembly on average` : null;
}

function failure(err: unknown): string {
  return `WebGPU failed: ${(err as Error)?.message ?? String(err)}`;
}

/**
 * Opens the model where it runs best. "wasm" and "webgpu" are taken as asked ("webgpu" without an adapter
 * is an error). "auto": WebAssembly where the browser offers no WebGPU (or only a software adapter, unless
 * `measureSoftwareAdapters`); else the record of an earlier visit for this model, adapter, threads and
 * browser; else the model is opened on both, the same probe edit is timed on each, and the faster is kept and
 * recorded. WebGPU failing (a kernel it lacks, an error creating or running a session, a result that is not
 * WebAssembly's) falls back to WebAssembly, with the reason recorded: never an error.
 */
export async function chooseDevice(
  open: (device: WebDevice) => Promise<OpenedModel>,
  o: ChoiceOptions,
): Promise<{ opened: OpenedModel; choice: DeviceChoice }> {
  const chosen = (opened: OpenedModel, choice: Omit<DeviceChoice, "threads">) => ({ opened, choice: { ...choice, threads: o.threads } });
  if (o.request === "wasm") return chosen(await open("wasm"), { device: "wasm", adapter: null, measured: null, remembered: false, reason: "as asked" });
  const adapter = await findAdapter();
  if (o.request === "webgpu") {
    if ("missing" in adapter)
      throw new MgieError("WEBGPU_UNAVAILABLE", `device "webgpu" was asked for, but ${adapter.missing}: leave device out to use WebAssembly`);
    return chosen(await open("webgpu"), { device: "webgpu", adapter: adapter.name, measured: null, remembered: false, reason: "as asked" });
  }
  if ("missing" in adapter) return chosen(await open("wasm"), { device: "wasm", adapter: null, measured: null, remembered: false, reason: adapter.missing });
  if (adapter.software && !o.measureSoftwareAdapters) {
    const reason = `WebGPU's only adapter, ${adapter.name}, runs on the CPU: not measured`;
    return chosen(await open("wasm"), { device: "wasm", adapter: adapter.name, measured: null, remembered: false, reason });
  }

  const manifest = new TextEncoder().encode(await o.files.readText("manifest.json"));
  const key: RecordKey = { modelSha256: await hexSha256(manifest), adapter: adapter.key, threads: o.threads };
  const records = new DeviceRecords(o.cacheName, o.files.location);
  const record = await records.get(key);
  if (record?.device === "wasm") return chosen(await open("wasm"), { ...record, adapter: adapter.name, remembered: true });
  if (record?.device === "webgpu") {
    try {
      return chosen(await open("webgpu"), { ...record, adapter: adapter.name, remembered: true });
    } catch (err) {
      const failed: DeviceRecord = { device: "wasm", measured: null, reason: failure(err) };
      await records.put(key, failed);
      return chosen(await open("wasm"), { ...failed, adapter: adapter.name, remembered: false });
    }
  }

  const wasm = await open("wasm");
  o.onMeasure?.("wasm");
  const onWasm = await probe(wasm);
  let webgpu: OpenedModel | null = null;
  let measuredRecord: DeviceRecord;
  try {
    o.onMeasure?.("webgpu");
    webgpu = await open("webgpu");
    const onWebgpu = await probe(webgpu);
    const measured = { wasm: onWasm.ms, webgpu: onWebgpu.ms };
    const wrong = mismatch(onWasm, onWebgpu);
    if (wrong) measuredRecord = { device: "wasm", measured, reason: `WebGPU ${wrong}` };
    else if (onWebgpu.ms < onWasm.ms)
      measuredRecord = { device: "webgpu", measured, reason: `WebAssembly measured ${duration(onWasm.ms)} against ${duration(onWebgpu.ms)}` };
    else measuredRecord = { device: "wasm", measured, reason: `WebGPU measured ${duration(onWebgpu.ms)} against ${duration(onWasm.ms)}` };
  } catch (err) {
    measuredRecord = { device: "wasm", measured: null, reason: failure(err) };
  }
  await records.put(key, measuredRecord);
  const [kept, dropped] = measuredRecord.device === "webgpu" && webgpu ? [webgpu, wasm] : [wasm, webgpu];
  if (dropped) await closeModel(dropped);
  return chosen(kept, { ...measuredRecord, adapter: adapter.name, remembered: false });
}
