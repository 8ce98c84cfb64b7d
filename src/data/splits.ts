/**
 * Dataset splits. Example `i` of a split has seed `SPLIT_SEED_BASE[split] + i`; the bases are a
 * billion apart and a split holds fewer than a billion examples, so no seed is in two splits.
 * Photos are split by their source package as well, so the same shot never crosses splits.
 */
export const SPLITS = ["train", "validation", "test"] as const;
export type Split = (typeof SPLITS)[number];

export const SPLIT_SEED_BASE: Record<Split, number> = { train: 0, validation: 1_000_000_000, test: 2_000_000_000 };
export const MAX_SPLIT_SIZE = 1_000_000_000;

/** The test split is fixed: these many examples, at this generator version (see GENERATOR_VERSION). */
export const TEST_SPLIT_SIZE = 1200;

export function exampleSeed(split: Split, index: number): number {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_SPLIT_SIZE) {
    throw new RangeError(`example index must be an integer in [0, ${MAX_SPLIT_SIZE}), got ${index}`);
  }
  return SPLIT_SEED_BASE[split] + index;
}
