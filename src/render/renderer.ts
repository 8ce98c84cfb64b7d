import { cropPixels, type RgbImage } from "../image/raster.js";
import { ColorGrid, type ColorGridData, type ColorGridOptions, DEFAULT_COLOR_GRID } from "./colorGrid.js";
import { keepGain } from "./keep.js";
import { inverseOrientation, orient, orientImage } from "./orientation.js";

/** Where the photo lies in the model's square, in model pixels (the whole square when it was squashed to fit). */
export interface ModelView {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface RenderInput {
  /** The photo at its own size: what the edit is carried onto. */
  photo: RgbImage;
  /** The model's view of the photo (a square at the model's resolution) and its output, in the output's frame. */
  modelInput: RgbImage;
  modelOutput: RgbImage;
  view: ModelView;
  /** The orientation the model chose (see ORIENTATIONS; 0 when it keeps the photo's). */
  orientation: number;
  /** Per model pixel, in the photo's frame: how much of the edit the region head allows (1 everywhere when null). */
  region: Float32Array | null;
  /** Changes below this (in [0, 1] units) keep the photo, as keepSignificantChanges does at the model's resolution. */
  changeThreshold: number;
  /** The user's mask at the photo's size in [0, 1]: the edit acts only where it is above 0. */
  mask: Float32Array | null;
  grid?: ColorGridOptions;
}

export interface RenderResult {
  image: RgbImage;
  /** The orientation applied to the photo: the model's, or 0 under a user mask (an edit confined to part of the photo cannot turn it). */
  orientation: number;
}

/**
 * Carries a model's low-resolution edit onto the full-size photo, instead of upsampling the model's
 * pixels:
 * 1. a flip or rotation (the model's orientation choice) is applied to the photo exactly, as a
 *    permutation of its pixels, and is the whole edit; under a user mask none is applied, and the
 *    choice is undone on the model's output so that output and input line up;
 * 2. the colour and tone change is fitted as local affine colour transforms on a bilateral grid
 *    (ColorGrid) and applied to the full-size photo, so edges and texture come from the photo;
 * 3. what the transforms cannot express (an object added, removed, moved) is the residual, added
 *    back bilinearly upsampled where it is significant;
 * 4. where the change is insignificant, outside the region head's region and outside the user's
 *    mask, the photo is kept bit for bit.
 */
export function renderEdit(input: RenderInput): RenderResult {
  const prepared = prepareRender(input);
  if ("image" in prepared) return prepared;
  renderRows(prepared, 0, prepared.height);
  return { image: { width: prepared.width, height: prepared.height, data: prepared.out }, orientation: 0 };
}

/**
 * Everything of renderEdit but the per-pixel pass: the result itself for a flip or rotation, else
 * the pass to run over the photo's rows (its `out` allocated by `allocate`: shared memory for workers).
 */
export function prepareRender(input: RenderInput, allocate: (n: number) => Float32Array = (n) => new Float32Array(n)): RenderResult | RenderPass {
  const { photo, modelInput, view } = input;
  const k = input.mask ? 0 : input.orientation;
  if (k !== 0) {
    // A flip or rotation is the whole edit: the photo's own pixels, moved (the model's softened choice
    // leaves a faint ghost of the other orientation in its colours, which is not carried over).
    return { image: orientImage(photo, k), orientation: k };
  }
  const res = modelInput.width;
  if (modelInput.height !== res || input.modelOutput.width !== res || input.modelOutput.height !== res) {
    throw new RangeError(
      `the model's input and output must be the same square, got ${modelInput.width}x${modelInput.height} and ${input.modelOutput.width}x${input.modelOutput.height}`,
    );
  }
  if (input.mask && input.mask.length !== photo.width * photo.height)
    throw new RangeError(`the mask must have one value per photo pixel (${photo.width}x${photo.height})`);
  const aligned = orient(input.modelOutput.data, res, res, 3, inverseOrientation(input.orientation));

  const t = input.changeThreshold;
  const grid = ColorGrid.fit(crop(modelInput.data, res, view), crop(aligned, res, view), view.width, view.height, null, input.grid ?? DEFAULT_COLOR_GRID);
  const fitted = grid.apply(modelInput.data, res, res, new Float32Array(aligned.length));
  // Per model pixel: the gain (change significant, inside the region), and the residual the colour transforms leave, where it is significant.
  const maps = new Float32Array(res * res * 4);
  for (let p = 0; p < res * res; p++) {
    let change = 0;
    let left = 0;
    for (let c = 0; c < 3; c++) {
      change = Math.max(change, Math.abs(aligned[p * 3 + c] - modelInput.data[p * 3 + c]));
      left = Math.max(left, Math.abs(aligned[p * 3 + c] - fitted[p * 3 + c]));
    }
    maps[p * 4] = keepGain(change, t) * (input.region ? input.region[p] : 1);
    const w = keepGain(left, t);
    for (let c = 0; c < 3; c++) maps[p * 4 + 1 + c] = w * (aligned[p * 3 + c] - fitted[p * 3 + c]);
  }

  return { width: photo.width, height: photo.height, data: photo.data, out: allocate(photo.data.length), grid: grid.data, maps, res, view, mask: input.mask };
}

/**
 * The per-pixel pass of renderEdit over the photo, as plain data (typed arrays and numbers), so that
 * worker threads can each run a band of rows over shared memory (see RenderPool).
 */
export interface RenderPass {
  width: number;
  height: number;
  /** The photo and the result, interleaved RGB in [0, 1]. */
  data: Float32Array;
  out: Float32Array;
  grid: ColorGridData;
  /** Per model pixel: the gain, then the residual's three channels. */
  maps: Float32Array;
  res: number;
  view: ModelView;
  mask: Float32Array | null;
}

/** Rows y0 to y1 (exclusive) of the result. */
export function renderRows(pass: RenderPass, y0: number, y1: number): void {
  const { width, height, data, out, maps, res, view, mask } = pass;
  const rows = ColorGrid.from(pass.grid).rows(width, height);
  const transformed = new Float32Array(width * 3);
  const sampler = new BilinearSampler(maps, res, 4, view, width, height);
  const { x0, fx, rowValues } = sampler;
  for (let y = y0; y < y1; y++) {
    rows.apply(data, y, transformed);
    sampler.row(y);
    for (let x = 0, p = y * width, q = p * 3; x < width; x++, p++, q += 3) {
      // The maps bilinearly, inlined: gain, then the residual's three channels.
      const i = x0[x] * 4;
      const j = i + 4;
      const f = fx[x];
      const gain = ((1 - f) * rowValues[i] + f * rowValues[j]) * (mask ? mask[p] : 1);
      if (gain <= 0) {
        out[q] = data[q];
        out[q + 1] = data[q + 1];
        out[q + 2] = data[q + 2];
        continue;
      }
      for (let c = 0; c < 3; c++) {
        const before = data[q + c];
        const residual = (1 - f) * rowValues[i + 1 + c] + f * rowValues[j + 1 + c];
        const v = before + gain * (transformed[x * 3 + c] + residual - before);
        out[q + c] = v < 0 ? 0 : Math.min(v, 1);
      }
    }
  }
}

/** The view's rectangle of a res x res interleaved RGB image (the whole square as it is). */
function crop(data: Float32Array, res: number, view: ModelView): Float32Array {
  if (view.x === 0 && view.y === 0 && view.width === res && view.height === res) return data;
  return cropPixels(data, res, 3, view.x, view.y, view.width, view.height);
}

/**
 * Bilinear samples of a res x res map of `channels` values at the pixels of a width x height photo
 * that the map's `view` rectangle covers: `row(y)` blends the map's rows once per photo row into
 * `rowValues`; a pixel x then blends samples x0[x] and x0[x] + 1 of it by fx[x] (the row carries a
 * copy of its last sample, so x0 + 1 stays inside).
 */
class BilinearSampler {
  readonly rowValues: Float32Array;
  readonly x0: Int32Array;
  readonly fx: Float32Array;

  constructor(
    private readonly map: Float32Array,
    private readonly res: number,
    private readonly channels: number,
    private readonly view: ModelView,
    width: number,
    private readonly height: number,
  ) {
    this.rowValues = new Float32Array((res + 1) * channels);
    this.x0 = new Int32Array(width);
    this.fx = new Float32Array(width);
    for (let x = 0; x < width; x++) [this.x0[x], this.fx[x]] = cell(view.x + ((x + 0.5) * view.width) / width - 0.5, res);
  }

  row(y: number): void {
    const [y0, fy] = cell(this.view.y + ((y + 0.5) * this.view.height) / this.height - 0.5, this.res);
    const n = this.res * this.channels;
    const a = y0 * n;
    const b = Math.min(y0 + 1, this.res - 1) * n;
    for (let q = 0; q < n; q++) this.rowValues[q] = (1 - fy) * this.map[a + q] + fy * this.map[b + q];
    this.rowValues.copyWithin(n, n - this.channels, n);
  }
}

/** The lower sample of a coordinate clamped to [0, n - 1], and the fraction towards the next. */
function cell(t: number, n: number): [number, number] {
  const c = t < 0 ? 0 : Math.min(t, n - 1);
  const i = Math.floor(c);
  return [i, c - i];
}
