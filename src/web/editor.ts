import { EditPipeline, openModel, type ViewOptions } from "../pipeline/editPipeline.js";
import { canvasImages } from "../platform/canvasImages.js";
import { type WebDevice, webOnnx } from "../platform/onnxWeb.js";
import { type DownloadOptions, ModelDownload } from "../platform/webFiles.js";
import { renderEdit } from "../render/renderer.js";

export interface WebLoadOptions extends ViewOptions, DownloadOptions {
  /** The folder (URL) of onnxruntime-web's ort-wasm-simd-threaded*.mjs and .wasm files, as `mgie build-web` writes them to web/ort/. */
  wasmPaths: string;
  /** "wasm" (default): WebAssembly with SIMD on the CPU; "webgpu": the GPU, where the browser offers WebGPU. */
  device?: WebDevice;
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
  /** Opens the model at `modelUrl` (the folder of its manifest.json): files fetched with progress, checked, cached. */
  static async load(modelUrl: string | URL, options: WebLoadOptions): Promise<MgieEditor> {
    const download = new ModelDownload(options);
    const onnx = await webOnnx({ device: options.device ?? "wasm", threads: options.threads ?? defaultThreads(), wasmPaths: options.wasmPaths });
    // One render at a time on this thread: the editor runs in a worker, so the page stays responsive.
    const renderer = { render: async (input: Parameters<typeof renderEdit>[0]) => renderEdit(input) };
    return new MgieEditor(await openModel(download.folder(modelUrl), { onnx, images: canvasImages, renderer }), options);
  }
}
