/**
 * The public API of mgie: the editing runtime. SynthEdit and datasets are in "mgie/data", the
 * HTTP server in "mgie/server", the evaluation in "mgie/eval", so that an edit loads none of them.
 */

export {
  EDIT_PARAMETERS,
  type EditParams,
  MAX_INSTRUCTION_CHARS,
  type ModelDefaults,
  type ParamSpec,
  type ResolvedEditParams,
  resolveEditParams,
} from "./core/params.js";
export { Rng } from "./core/rng.js";
export { DataFormatError, ImageInputError, InvalidArgumentError, MgieError } from "./errors.js";
export {
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_PIXELS,
  type EncodeOptions,
  encodeImage,
  type ImageFormat,
  type Photo,
  type ReadImageOptions,
  readableFormats,
  readImage,
  readPhoto,
  writeImage,
} from "./image/io.js";
export { DEFAULT_FIT, type ImageInput, ImageProcessor, type ModelFit } from "./image/processor.js";
export type { RgbImage } from "./image/raster.js";
export { createImage, fromUint8, toUint8 } from "./image/raster.js";
export { type Manifest, type ModelDir, ModelDirError, modelDefaults } from "./models/modelDir.js";
export { Tokenizer } from "./models/tokenizer.js";
export {
  type BatchOptions,
  DEFAULT_MODEL_DIR,
  EDIT_STAGES,
  type EditItem,
  type EditOptions,
  type EditProgress,
  type EditResult,
  MgieEditor,
} from "./pipeline/editor.js";
export { dualGuidance } from "./pipeline/guidance.js";
export { loadModelDir } from "./platform/nodeFiles.js";
export { sharpImages } from "./platform/sharpImages.js";
export { ColorGrid, type ColorGridOptions, DEFAULT_COLOR_GRID } from "./render/colorGrid.js";
export { ORIENTATIONS, type Orientation, orientImage } from "./render/orientation.js";
export { type ModelView, type RenderInput, type RenderResult, renderEdit } from "./render/renderer.js";
export { DDIMScheduler } from "./schedulers/ddim.js";
export { EulerAncestralScheduler } from "./schedulers/eulerAncestral.js";
export { type Prediction, toEpsilon } from "./schedulers/prediction.js";
export { createScheduler, DEFAULT_SCHEDULER, SCHEDULER_NAMES, type SchedulerName } from "./schedulers/registry.js";
export type { Scheduler } from "./schedulers/scheduler.js";
