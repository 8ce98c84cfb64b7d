import { readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { MgieError } from "../errors.js";
import { ModelDirError } from "../models/modelDir.js";
import { loadModelDir } from "../platform/nodeFiles.js";

/**
 * The files the page needs to edit on the device, beside its own (public/): the bundled worker
 * (scripts/bundle-web.mjs), onnxruntime-web's WebAssembly, and the model's files (verified here first,
 * and again by the browser against the manifest). `mgie serve` serves them; `mgie build-web` copies them.
 */
export interface DeviceFile {
  /** Path of its URL below the site's root, e.g. "web/model/unet.onnx". */
  url: string;
  /** The file on disk. */
  path: string;
}

/** The bundle `npm run build` writes (from the sources too: tests import them). */
const BUNDLE_DIR = fileURLToPath(new URL("../../dist/web/bundle/", import.meta.url));
/** onnxruntime-web's runtime: the WebAssembly build and the one with WebGPU (asyncify), each a loader and its binary. */
const ORT_FILES = ["ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm"];
/** Where the page finds the model and the runtime, relative to its own URL. */
export const MODEL_URL = "web/model/";
export const WASM_URL = `web/ort-${ortVersion()}/`;

/** onnxruntime-web's version (its package.json is not among its exports: read beside its files). */
function ortVersion(): string {
  const wasm = createRequire(import.meta.url).resolve(`onnxruntime-web/${ORT_FILES[1]}`);
  return (JSON.parse(readFileSync(join(dirname(wasm), "..", "package.json"), "utf8")) as { version: string }).version;
}

export const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".onnx": "application/octet-stream",
  ".txt": "text/plain; charset=utf-8",
};

export function contentType(url: string): string {
  return CONTENT_TYPES[extname(url)] ?? "application/octet-stream";
}

/** Every device file of the model in `modelDir`; a MgieError when the worker bundle was never built. */
export async function deviceFiles(modelDir: string): Promise<DeviceFile[]> {
  let bundle: string[];
  try {
    bundle = (await readdir(BUNDLE_DIR, { recursive: true })).filter((f) => f.endsWith(".js") || f.endsWith(".txt"));
  } catch (cause) {
    throw new MgieError("NOT_BUILT", `the page's on-device editor is not built (${BUNDLE_DIR} is missing): run 'npm run build'`, { cause });
  }
  const require = createRequire(import.meta.url);
  const files: DeviceFile[] = [
    ...bundle.map((f) => ({ url: `web/${f.split("\\").join("/")}`, path: join(BUNDLE_DIR, f) })),
    ...ORT_FILES.map((f) => ({ url: `${WASM_URL}${f}`, path: require.resolve(`onnxruntime-web/${f}`) })),
  ];
  const model = await loadModelDir(modelDir);
  const m = model.manifest;
  const named = [m.tokenizer.file, ...(m.expressive ? [m.expressive.file] : []), ...Object.keys(model.files).map((c) => m.components[c].file)];
  files.push(...["manifest.json", ...named].map((f) => ({ url: `${MODEL_URL}${f}`, path: join(modelDir, f) })));
  if (m.instruction_encoder && model.instructionEncoder) {
    // The encoder's folder sits where the manifest's relative path puts it, as on disk, and must stay below web/.
    const url = new URL(`${m.instruction_encoder.path.replace(/\/*$/, "")}/`, `http://site/${MODEL_URL}`).pathname.slice(1);
    if (!url.startsWith("web/") || url === MODEL_URL) {
      throw new ModelDirError(`the model's instruction encoder path '${m.instruction_encoder.path}' leaves the model's site folder: keep it beside the model`);
    }
    const dir = model.instructionEncoder.location;
    const encoder = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as { files: Record<string, unknown> };
    files.push(...["manifest.json", ...Object.keys(encoder.files)].map((f) => ({ url: `${url}${f}`, path: join(dir, f) })));
  }
  return files;
}

/** The page's settings of the device path: where the model and the runtime are, and whether a server can edit too. */
export function deviceConfig(server: boolean): { server: boolean; model: string; wasmPaths: string } {
  return { server, model: MODEL_URL, wasmPaths: WASM_URL };
}
