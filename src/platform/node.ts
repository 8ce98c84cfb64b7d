import { fileURLToPath } from "node:url";
import { MiniLM } from "../models/minilm.js";
import type { EditPlatform } from "../pipeline/editPipeline.js";
import { NodeModelFiles } from "./nodeFiles.js";
import { nodeOnnx } from "./onnxNode.js";
import { RenderPool } from "./renderPool.js";
import { sharpImages } from "./sharpImages.js";

/** The model shipped in the repository. */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL("../../models/mgie-e2e", import.meta.url));

/** The pretrained sentence encoder all-MiniLM-L6-v2 (int8 weights), as train/mgie_train/minilm/build.py writes it. */
export const DEFAULT_MINILM_DIR = fileURLToPath(new URL("../../models/minilm", import.meta.url));

/** The Node platform: onnxruntime-node with `threads` threads (default: one per core), sharp, the renderer on every core. */
export function nodePlatform(threads?: number): EditPlatform {
  return { onnx: nodeOnnx(threads), images: sharpImages, renderer: new RenderPool() };
}

/** The MiniLM encoder of a folder on disk, its session on onnxruntime-node. */
export function loadMiniLM(dir: string = DEFAULT_MINILM_DIR, options: { threads?: number } = {}): Promise<MiniLM> {
  return MiniLM.open(new NodeModelFiles(dir), nodeOnnx(options.threads));
}
