/**
 * The page's editor on the device: a module Web Worker (bundled to web/worker.js by scripts/bundle-web.ts)
 * that loads the model once and runs edits off the page's thread. The page talks to it through
 * src/server/public/device.js; every message is one of WorkerRequest, every answer one of WorkerReply.
 */

import type { EditParams } from "../core/params.js";
import { MgieError } from "../errors.js";
import type { WebDevice } from "../platform/onnxWeb.js";
import type { DownloadProgress } from "../platform/webFiles.js";
import { type DeviceChoice, type DeviceRequest, describeDevice } from "./deviceChoice.js";
import { MgieEditor } from "./editor.js";
import { encodePng } from "./png.js";

export type WorkerRequest =
  | { type: "load"; model: string; wasmPaths: string; device?: DeviceRequest; threads?: number }
  | { type: "edit"; id: number; image: Blob; mask: Blob | null; instruction: string; params: EditParams }
  | { type: "cancel"; id: number };

export type WorkerReply =
  | { type: "download"; progress: DownloadProgress }
  | { type: "measuring"; device: WebDevice }
  | { type: "ready"; choice: DeviceChoice; summary: string; loadMs: number; fetchedBytes: number; totalBytes: number }
  | { type: "progress"; id: number; stage: string; step?: number; steps?: number }
  | {
      type: "done";
      id: number;
      png: Blob;
      width: number;
      height: number;
      expressiveInstruction: string;
      unsupported: string | null;
      timings: Record<string, number>;
    }
  | { type: "failed"; id?: number; error: { code: string; message: string } };

const scope = self as unknown as { postMessage(m: WorkerReply): void; onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null };
let editor: Promise<MgieEditor> | null = null;
const running = new Map<number, AbortController>();

function fail(err: unknown, id?: number): void {
  const error = err instanceof MgieError ? { code: err.code, message: err.message } : { code: "INTERNAL", message: String((err as Error)?.message ?? err) };
  scope.postMessage({ type: "failed", id, error });
}

async function load(request: Extract<WorkerRequest, { type: "load" }>): Promise<void> {
  const started = performance.now();
  let last = { loaded: 0, total: 0, fetched: 0, file: "" };
  editor = MgieEditor.load(request.model, {
    wasmPaths: request.wasmPaths,
    device: request.device,
    threads: request.threads,
    onProgress: (progress) => {
      last = progress;
      scope.postMessage({ type: "download", progress });
    },
    onMeasure: (device) => scope.postMessage({ type: "measuring", device }),
  });
  const { device } = await editor;
  scope.postMessage({
    type: "ready",
    choice: device,
    summary: describeDevice(device),
    loadMs: performance.now() - started,
    fetchedBytes: last.fetched,
    totalBytes: last.total,
  });
}

async function edit(request: Extract<WorkerRequest, { type: "edit" }>): Promise<void> {
  if (!editor) throw new MgieError("NOT_LOADED", "the model is not loaded yet: load it first");
  const e = await editor;
  const controller = new AbortController();
  running.set(request.id, controller);
  try {
    const image = new Uint8Array(await request.image.arrayBuffer());
    const mask = request.mask ? new Uint8Array(await request.mask.arrayBuffer()) : undefined;
    const r = await e.edit(image, request.instruction, {
      ...request.params,
      mask,
      signal: controller.signal,
      onProgress: (p) => scope.postMessage({ type: "progress", id: request.id, ...p }),
    });
    const png = await encodePng(r.image);
    scope.postMessage({
      type: "done",
      id: request.id,
      png,
      width: r.image.width,
      height: r.image.height,
      expressiveInstruction: r.expressiveInstruction,
      unsupported: r.unsupported,
      timings: r.timings,
    });
  } finally {
    running.delete(request.id);
  }
}

scope.onmessage = (event) => {
  const request = event.data;
  if (request.type === "load") load(request).catch((err) => fail(err));
  else if (request.type === "edit") edit(request).catch((err) => fail(err, request.id));
  else if (request.type === "cancel") running.get(request.id)?.abort();
};
