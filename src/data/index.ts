/** mgie/data: SynthEdit, the generator of editing examples, and its on-disk datasets (for training and evaluation). */

export { DATASET_FORMAT, type DatasetMeta, type IndexEntry, type StoredExample, SynthEditDataset, writeDataset } from "./dataset.js";
export { type Background, EDIT_KINDS, type EditExample, type EditKind, type GeneratedEdit, type Source } from "./example.js";
export { type CropRef, DEFAULT_PHOTO_DIR, type Photo, PhotoLibrary } from "./photos.js";
export { contactSheet, pickBalanced, type SheetItem } from "./preview.js";
export { exampleSeed, SPLITS, type Split, TEST_SPLIT_SIZE } from "./splits.js";
export { DEFAULT_RES, GENERATOR_VERSION, SynthEdit, type SyntheticEditOptions } from "./synthedit.js";
