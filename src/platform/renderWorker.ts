import { parentPort } from "node:worker_threads";
import { type RenderPass, renderRows } from "../render/renderer.js";

/** A RenderPool worker: runs bands of rows of a render pass over shared memory. */
parentPort?.on("message", ({ pass, y0, y1 }: { pass: RenderPass; y0: number; y1: number }) => {
  try {
    renderRows(pass, y0, y1);
    parentPort?.postMessage({ ok: true });
  } catch (err) {
    parentPort?.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) });
  }
});
