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
export { DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, encodeImage, type ImageFormat, type ReadImageOptions, readImage, writeImage } from "./image/io.js";
export { type ImageInput, ImageProcessor } from "./image/processor.js";
export type { RgbImage } from "./image/raster.js";
export { createImage, fromUint8, toUint8 } from "./image/raster.js";
export { loadModelDir, type Manifest, type ModelDir, ModelDirError, modelDefaults } from "./models/modelDir.js";
export { Tokenizer } from "./models/tokenizer.js";
export { DEFAULT_MODEL_DIR, type EditOptions, type EditProgress, type EditResult, MgieEditor } from "./pipeline/editor.js";
export { dualGuidance } from "./pipeline/guidance.js";
export { DDIMScheduler } from "./schedulers/ddim.js";
export { EulerAncestralScheduler } from "./schedulers/eulerAncestral.js";
export { type Prediction, toEpsilon } from "./schedulers/prediction.js";
export { createScheduler, DEFAULT_SCHEDULER, SCHEDULER_NAMES, type SchedulerName } from "./schedulers/registry.js";
export type { Scheduler } from "./schedulers/scheduler.js";
