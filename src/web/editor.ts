import { EditPipeline, type OpenedModel, openModel, type ViewOptions } from "../pipeline/editPipeline.js";
import { canvasImages } from "../platform/canvasImages.js";
import { type WebDevice, webOnnx } from "../platform/onnxWeb.js";
import { DEFAULT_CACHE_NAME, type DownloadOptions, ModelDownload } from "../platform/webFiles.js";
import { renderEdit } from "../render/renderer.js";
import { chooseDevice, type DeviceChoice, type DeviceRequest } from "./deviceChoice.js";

export interface WebLoadOptions extends ViewOptions, DownloadOptions {
  /** The folder (URL) of onnxruntime-web's ort-wasm-simd-threaded*.mjs and .wasm files, as `mgie build-web` writes them to web/ort/. */
  wasmPaths: string;
  /**
   * "auto" (default): WebAssembly, or WebGPU where the browser offers a GPU adapter and a probe edit measures it
   * faster (the choice is kept per model and adapter; see chooseDevice); "wasm" or "webgpu" to force one.
   */
  device?: DeviceRequest;
  /** With "auto", measure a software WebGPU adapter (SwiftShader) too instead of passing it over (default false). */
  measureSoftwareAdapters?: boolean;
  /** With "auto", called as the probe edit starts on each device (first visits only). */
  onMeasure?: (device: WebDevice) => void;
  /** WebAssembly threads; default: up to 4 on a cross-origin isolated page, else 1 (threads need SharedArrayBuffer). */
  threads?: number;
}

/** The threads a page can use: several only where SharedArrayBuffer is allowed (a cross-origin isolated page). */
export function defaultThreads(): number {
  return globalThis.crossOriginIsolated ? Math.max(1, Math.min(4, globalThis.navigator?.hardwareConcurrency ?? 1)) : 1;
}

/**
 * MGIE editing in a browser, on the device: the same pipeline as in Node (EditPipeline), its sessions
 * on onnxruntime-web, images decoded by the browser. Images are URLs, encoded bytes or RgbImages;
 * nothing is sent anywhere but the model's own files fetched from `modelUrl`.
 */
export class MgieEditor extends EditPipeline {
  private constructor(
    opened: OpenedModel,
    options: ViewOptions,
    /** Where its sessions run and why. */
    readonly device: DeviceChoice,
  ) {
    super(opened, options);
  }

  /** Opens the model at `modelUrl` (the folder of its manifest.json): files fetched with progress, checked, cached. */
  static async load(modelUrl: string | URL, options: WebLoadOptions): Promise<MgieEditor> {
    const download = new ModelDownload(options);
    const files = download.folder(modelUrl);
    const threads = options.threads ?? defaultThreads();
    // One render at a time on this thread: the editor runs in a worker, so the page stays responsive.
    const renderer = { render: async (input: Parameters<typeof renderEdit>[0]) => renderEdit(input) };
    const open = async (device: WebDevice) =>
      openModel(files, { onnx: await webOnnx({ device, threads, wasmPaths: options.wasmPaths }), images: canvasImages, renderer });
    const { opened, choice } = await chooseDevice(open, {
      request: options.device ?? "auto",
      threads,
      files,
      cacheName: options.cacheName === undefined ? DEFAULT_CACHE_NAME : options.cacheName,
      measureSoftwareAdapters: options.measureSoftwareAdapters ?? false,
      onMeasure: options.onMeasure,
    });
    return new MgieEditor(opened, options, choice);
  }
}
