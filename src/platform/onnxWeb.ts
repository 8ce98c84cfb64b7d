import type * as ort from "onnxruntime-web";
import { adaptSession, type OnnxBackend, type OnnxSession } from "../models/backend.js";

/** Where sessions run in the browser: WebAssembly on the CPU (SIMD; threads when the page is cross-origin isolated), or the GPU. */
export type WebDevice = "wasm" | "webgpu";

export interface WebOnnxOptions {
  device: WebDevice;
  /** WebAssembly threads: more than 1 only where SharedArrayBuffer exists (a cross-origin isolated page). */
  threads: number;
  /** The folder (URL, ending in /) of onnxruntime-web's ort-wasm-simd-threaded*.mjs and .wasm files. */
  wasmPaths: string;
}

/** The runtime's module for a device: the WebAssembly-only build (14 MB of .wasm) or the one with WebGPU. */
export async function importOrt(device: WebDevice): Promise<typeof ort> {
  return device === "webgpu" ? import("onnxruntime-web/webgpu") : import("onnxruntime-web/wasm");
}

/** The editing core's ONNX backend in the browser: onnxruntime-web. */
export async function webOnnx(options: WebOnnxOptions): Promise<OnnxBackend> {
  const runtime = await importOrt(options.device);
  runtime.env.wasm.wasmPaths = options.wasmPaths;
  runtime.env.wasm.numThreads = options.threads;
  // The editor already runs in a worker of its own: no second proxy worker.
  runtime.env.wasm.proxy = false;
  // getData copies a GPU tensor to the CPU; for WebAssembly it is the data itself.
  const wrap = (session: ort.InferenceSession): OnnxSession =>
    adaptSession(
      session,
      (t) => new runtime.Tensor(t.type, t.data, t.dims),
      async (t: ort.Tensor) => (await t.getData(true)) as Float32Array,
    );
  const create = async (bytes: Uint8Array) =>
    wrap(await runtime.InferenceSession.create(bytes, { executionProviders: [options.device], graphOptimizationLevel: "all", logSeverityLevel: 3 }));
  // The WebGPU EP refuses a session while another is being created ("another WebGPU EP inference session is
  // being created"), and openModel creates them all at once: on WebGPU they are created one after another.
  let previous: Promise<unknown> = Promise.resolve();
  return {
    createSession:
      options.device === "webgpu"
        ? (bytes) => {
            const session = previous.catch(() => {}).then(() => create(bytes));
            previous = session;
            return session;
          }
        : create,
  };
}
