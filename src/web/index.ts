/**
 * mgie in the browser ("mgie/web"): the editing runtime on onnxruntime-web, for a bundler. The page that
 * `mgie serve` and `mgie build-web` ship runs it in a Web Worker (src/web/worker.ts); see docs/WEB.md.
 */

export { EDIT_PARAMETERS, type EditParams } from "../core/params.js";
export { ImageInputError, InvalidArgumentError, MgieError } from "../errors.js";
export type { ImageInput } from "../image/processor.js";
export type { RgbImage } from "../image/raster.js";
export { type Manifest, ModelDirError, modelDefaults } from "../models/modelDir.js";
export { type BatchOptions, EDIT_STAGES, type EditItem, type EditOptions, type EditProgress, type EditResult } from "../pipeline/editPipeline.js";
export { canvasImages } from "../platform/canvasImages.js";
export type { WebDevice } from "../platform/onnxWeb.js";
export type { DownloadOptions, DownloadProgress } from "../platform/webFiles.js";
export { type DeviceChoice, type DeviceRequest, describeDevice } from "./deviceChoice.js";
export { defaultThreads, MgieEditor, type WebLoadOptions } from "./editor.js";
export { encodePng } from "./png.js";
