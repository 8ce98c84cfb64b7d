/** The public API of mgie. */
export { MgieError, ImageInputError, DataFormatError, InvalidArgumentError } from "./errors.js";
export type { RgbImage } from "./image/raster.js";
export { createImage, toUint8, fromUint8 } from "./image/raster.js";
export { readImage, writeImage, encodeImage, DEFAULT_MAX_PIXELS, DEFAULT_MAX_BYTES, type ReadImageOptions, type ImageFormat } from "./image/io.js";
export { SynthEdit, GENERATOR_VERSION, DEFAULT_RES, type SyntheticEditOptions } from "./data/synthedit.js";
export { EDIT_KINDS, type EditKind, type EditExample, type GeneratedEdit, type Source, type Background } from "./data/example.js";
export { SPLITS, TEST_SPLIT_SIZE, exampleSeed, type Split } from "./data/splits.js";
export { writeDataset, SynthEditDataset, DATASET_FORMAT, type DatasetMeta, type IndexEntry, type StoredExample } from "./data/dataset.js";
export { PhotoLibrary, DEFAULT_PHOTO_DIR, type Photo, type CropRef } from "./data/photos.js";
export { contactSheet, pickBalanced, type SheetItem } from "./data/preview.js";
export { MgieEditor, DEFAULT_MODEL_DIR, SCHEDULERS, MAX_INSTRUCTION_CHARS, type EditOptions, type EditResult, type EditProgress, type ImageInput } from "./pipeline/editor.js";
export { dualGuidance } from "./pipeline/guidance.js";
export { DDIMScheduler } from "./schedulers/ddim.js";
export { EulerAncestralScheduler } from "./schedulers/eulerAncestral.js";
export type { Scheduler } from "./schedulers/scheduler.js";
export { Tokenizer } from "./models/tokenizer.js";
export { loadModelDir, ModelDirError, type Manifest, type ModelDir } from "./models/modelDir.js";
export { createServer } from "./server/app.js";
