// Editing on this device: the page's side of the module worker web/worker.js (src/web/worker.ts),
// which loads the model into this browser (fetched once, checked against its manifest, then kept in
// the Cache API) and edits there. The photo never leaves the device.
import { ApiError } from "./api.js";

/** Why this browser cannot edit on the device, or null when it can. */
export function deviceUnsupported() {
  if (!window.isSecureContext) return "editing on this device needs a secure page (https, or http on localhost)";
  if (typeof WebAssembly !== "object" || typeof OffscreenCanvas === "undefined" || typeof createImageBitmap !== "function") {
    return "this browser lacks WebAssembly, OffscreenCanvas or createImageBitmap";
  }
  return null;
}

export class DeviceEditor {
  /** `config`: web/config.json (where the model and the runtime are, relative to the page). */
  constructor(config) {
    this.config = config;
    this.worker = null;
    this.ready = null;
    this.loading = null;
    this.nextId = 1;
    this.edits = new Map();
  }

  /**
   * Starts the worker and loads the model once; resolves with {choice, summary, loadMs, fetchedBytes,
   * totalBytes} (choice: where it runs and why; summary: that in words). `onProgress({loaded, total,
   * fetched})` follows the download, `onMeasure(device)` the first visit's timing of WebGPU against WebAssembly.
   */
  load(onProgress, onMeasure) {
    if (!this.ready) {
      this.worker = new Worker(new URL("web/worker.js", location.href), { type: "module" });
      this.worker.onmessage = (e) => this.receive(e.data);
      this.worker.onerror = (e) => this.loading?.reject(new ApiError(0, "WORKER", `the on-device editor failed to start: ${e.message ?? "unknown error"}`));
      this.ready = new Promise((resolve, reject) => {
        this.loading = { resolve, reject, onProgress, onMeasure };
      });
      this.worker.postMessage({
        type: "load",
        model: new URL(this.config.model, location.href).href,
        wasmPaths: new URL(this.config.wasmPaths, location.href).href,
      });
      // A failed load may be retried (a network error, say).
      this.ready.catch(() => this.close());
    }
    return this.ready;
  }

  /**
   * Edits `image` (a Blob) as the server would; resolves like a finished job: {blob, expressiveInstruction,
   * timings}; `onProgress({stage, step, steps})`; `signal` cancels.
   */
  async edit(image, params, instruction, mask, onProgress, signal) {
    await this.ready;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.edits.set(id, { resolve, reject, onProgress });
      signal?.addEventListener("abort", () => this.worker.postMessage({ type: "cancel", id }), { once: true });
      this.worker.postMessage({ type: "edit", id, image, mask, instruction, params });
    });
  }

  close() {
    this.worker?.terminate();
    this.worker = null;
    this.ready = null;
  }

  receive(m) {
    if (m.type === "download") this.loading?.onProgress?.(m.progress);
    else if (m.type === "measuring") this.loading?.onMeasure?.(m.device);
    else if (m.type === "ready") this.loading?.resolve(m);
    else if (m.type === "failed" && m.id === undefined) this.loading?.reject(new ApiError(0, m.error.code, m.error.message));
    else {
      const edit = this.edits.get(m.id);
      if (!edit) return;
      if (m.type === "progress") edit.onProgress?.(m);
      else {
        this.edits.delete(m.id);
        if (m.type === "failed") edit.reject(new ApiError(0, m.error.code, m.error.message));
        else if (m.unsupported) edit.reject(new ApiError(0, "UNSUPPORTED_REQUEST", m.unsupported));
        else edit.resolve({ blob: m.png, expressiveInstruction: m.expressiveInstruction, timings: m.timings, width: m.width, height: m.height });
      }
    }
  }
}
