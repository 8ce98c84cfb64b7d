import { luma } from "../image/raster.js";

/** How finely the colour transform may vary: grid cells across the image, luminance bins, and how strongly a node keeps to the global fit. */
export interface ColorGridOptions {
  /** Spatial cells along each side of the image. */
  cells: number;
  /** Luminance bins. */
  bins: number;
  /** Pull of each node towards the image-wide transform, in units of a node's average pixel weight. */
  smoothness: number;
}

export const DEFAULT_COLOR_GRID: ColorGridOptions = { cells: 8, bins: 8, smoothness: 0.5 };

/** A fitted grid as plain data (to hand to a worker thread). */
export interface ColorGridData {
  nx: number;
  ny: number;
  nz: number;
  coefs: Float64Array;
}

/** 3 output channels x (r, g, b, 1): one affine colour transform. */
const COEFS = 12;

/**
 * Local affine colour transforms on a bilateral grid (x, y, luminance), fitted on a low-resolution
 * (input -> output) pair and applied to the input at any resolution: bilateral guided upsampling
 * (Chen et al. 2016; the grid of HDRNet). Each grid node holds the affine transform that best maps
 * the input colours near it (in space and in luminance, weighted by the trilinear hat function) to
 * the output colours, pulled towards the image-wide fit where a node sees few pixels. A full-size
 * pixel takes the trilinear blend of its 8 nodes, chosen by its own position and luminance, so the
 * edit follows the photo's edges and keeps its texture.
 */
export class ColorGrid {
  private constructor(
    readonly nx: number,
    readonly ny: number,
    readonly nz: number,
    /** COEFS per node, node (i, j, k) at ((j * nx + i) * nz + k) * COEFS. */
    private readonly coefs: Float64Array,
  ) {}

  static from(d: ColorGridData): ColorGrid {
    return new ColorGrid(d.nx, d.ny, d.nz, d.coefs);
  }

  get data(): ColorGridData {
    return { nx: this.nx, ny: this.ny, nz: this.nz, coefs: this.coefs };
  }

  /**
   * Fits the grid on interleaved RGB images in [0, 1] of width x height; `weight` (one per pixel,
   * optional) says how much each pixel counts (0: not at all).
   */
  static fit(
    input: Float32Array,
    output: Float32Array,
    width: number,
    height: number,
    weight: Float32Array | null,
    options: ColorGridOptions = DEFAULT_COLOR_GRID,
  ): ColorGrid {
    const nx = options.cells + 1;
    const ny = options.cells + 1;
    const nz = options.bins + 1;
    const nodes = nx * ny * nz;
    // Per node: the 10 distinct entries of sum w x x^T (x = [r, g, b, 1]) and the 12 of sum w x o^T.
    const mom = new Float64Array(nodes * 10);
    const rhs = new Float64Array(nodes * COEFS);
    const globalMom = new Float64Array(10);
    const globalRhs = new Float64Array(COEFS);
    const x = new Float64Array(4);
    x[3] = 1;
    const o = new Float64Array(3);
    const accumulate = (m: Float64Array, r: Float64Array, at: number, w: number) => {
      let q = at * 10;
      for (let a = 0; a < 4; a++) for (let b = a; b < 4; b++) m[q++] += w * x[a] * x[b];
      const rr = at * COEFS;
      for (let c = 0; c < 3; c++) for (let a = 0; a < 4; a++) r[rr + c * 4 + a] += w * o[c] * x[a];
    };
    let mass = 0;
    for (let py = 0; py < height; py++) {
      const [j0, fy] = cellOf(((py + 0.5) / height) * (ny - 1), ny);
      for (let px = 0; px < width; px++) {
        const p = py * width + px;
        const w = weight ? weight[p] : 1;
        if (w <= 0) continue;
        for (let c = 0; c < 3; c++) {
          x[c] = input[p * 3 + c];
          o[c] = output[p * 3 + c];
        }
        const [i0, fx] = cellOf(((px + 0.5) / width) * (nx - 1), nx);
        const [k0, fz] = cellOf(luma(x[0], x[1], x[2]) * (nz - 1), nz);
        accumulate(globalMom, globalRhs, 0, w);
        mass += w;
        for (let dj = 0; dj < 2; dj++) {
          const wy = dj ? fy : 1 - fy;
          for (let di = 0; di < 2; di++) {
            const wxy = wy * (di ? fx : 1 - fx);
            for (let dk = 0; dk < 2; dk++) {
              const wn = w * wxy * (dk ? fz : 1 - fz);
              if (wn > 0) accumulate(mom, rhs, ((j0 + dj) * nx + i0 + di) * nz + k0 + dk, wn);
            }
          }
        }
      }
    }
    // The image-wide transform: identity when nothing was seen; a little ridge keeps it well posed.
    const identity = new Float64Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
    const global = mass > 0 ? solveAffine(globalMom, 0, globalRhs, 0, 1e-4 * mass, identity) : identity;
    const lambda = Math.max(options.smoothness * (mass / nodes), 1e-6);
    const coefs = new Float64Array(nodes * COEFS);
    for (let n = 0; n < nodes; n++) coefs.set(solveAffine(mom, n * 10, rhs, n * COEFS, lambda, global), n * COEFS);
    return new ColorGrid(nx, ny, nz, coefs);
  }

  /**
   * Applies the transforms to interleaved RGB `image` (width x height, [0, 1]), writing `out`. The grid
   * spans the same image: pixel (x, y) sits at the same fraction of the grid at any resolution.
   */
  apply(image: Float32Array, width: number, height: number, out: Float32Array): Float32Array {
    const rows = this.rows(width, height);
    for (let py = 0; py < height; py++) rows.apply(image, py, out.subarray(py * width * 3, (py + 1) * width * 3));
    return out;
  }

  /** Row by row application to a width x height image (the renderer blends each row as it goes). */
  rows(width: number, height: number): GridRows {
    return new GridRows(this.nx, this.ny, this.nz, this.coefs, width, height);
  }
}

/** The grid applied to the rows of one image size: the vertical blend of the nodes once per row, then two nodes in x and two bins in luminance per pixel. */
export class GridRows {
  private readonly rowCoefs: Float64Array;
  private readonly col: Int32Array;
  private readonly fx: Float64Array;

  constructor(
    private readonly nx: number,
    private readonly ny: number,
    private readonly nz: number,
    private readonly coefs: Float64Array,
    private readonly width: number,
    private readonly height: number,
  ) {
    this.rowCoefs = new Float64Array(nx * nz * COEFS);
    this.col = new Int32Array(width);
    this.fx = new Float64Array(width);
    // Each column's node offset in a row of nodes, and its fraction towards the next.
    for (let px = 0; px < width; px++) {
      const [i0, f] = cellOf(((px + 0.5) / width) * (nx - 1), nx);
      this.col[px] = i0 * nz * COEFS;
      this.fx[px] = f;
    }
  }

  /** Row `py` of `image` transformed into `out` (width x 3 values). */
  apply(image: Float32Array, py: number, out: Float32Array): void {
    const { nx, ny, nz, coefs, rowCoefs, col, fx, width } = this;
    const [j0, fy] = cellOf(((py + 0.5) / this.height) * (ny - 1), ny);
    const a = j0 * nx * nz * COEFS;
    const b = (j0 + 1) * nx * nz * COEFS;
    for (let q = 0; q < rowCoefs.length; q++) rowCoefs[q] = (1 - fy) * coefs[a + q] + fy * coefs[b + q];
    const zMax = nz - 1;
    const nextX = nz * COEFS;
    let p = py * width * 3;
    for (let px = 0, o = 0; px < width; px++, p += 3, o += 3) {
      const r = image[p];
      const g = image[p + 1];
      const bl = image[p + 2];
      // cellOf, inlined: this loop runs once per full-size pixel.
      let t = luma(r, g, bl) * zMax;
      t = t < 0 ? 0 : Math.min(t, zMax);
      const k0 = t >= zMax ? zMax - 1 : Math.floor(t);
      const fz = t - k0;
      const f = fx[px];
      const n00 = col[px] + k0 * COEFS;
      const n01 = n00 + COEFS;
      const n10 = n00 + nextX;
      const n11 = n10 + COEFS;
      const w00 = (1 - f) * (1 - fz);
      const w01 = (1 - f) * fz;
      const w10 = f * (1 - fz);
      const w11 = f * fz;
      for (let ch = 0, q = 0; ch < 3; ch++, q += 4) {
        const cr = w00 * rowCoefs[n00 + q] + w01 * rowCoefs[n01 + q] + w10 * rowCoefs[n10 + q] + w11 * rowCoefs[n11 + q];
        const cg = w00 * rowCoefs[n00 + q + 1] + w01 * rowCoefs[n01 + q + 1] + w10 * rowCoefs[n10 + q + 1] + w11 * rowCoefs[n11 + q + 1];
        const cb = w00 * rowCoefs[n00 + q + 2] + w01 * rowCoefs[n01 + q + 2] + w10 * rowCoefs[n10 + q + 2] + w11 * rowCoefs[n11 + q + 2];
        const c1 = w00 * rowCoefs[n00 + q + 3] + w01 * rowCoefs[n01 + q + 3] + w10 * rowCoefs[n10 + q + 3] + w11 * rowCoefs[n11 + q + 3];
        const v = cr * r + cg * g + cb * bl + c1;
        out[o + ch] = v < 0 ? 0 : Math.min(v, 1);
      }
    }
  }
}

/** The lower node of a coordinate in [0, n - 1] and the fraction towards the next node. */
function cellOf(t: number, n: number): [number, number] {
  const clamped = t < 0 ? 0 : Math.min(t, n - 1);
  const i = Math.min(Math.floor(clamped), n - 2);
  return [i, clamped - i];
}

/**
 * The affine transform A (3 x 4) minimising sum w |A x - o|^2 + lambda |A - prior|^2, from the
 * packed moments at mom[m..m+10) and rhs[r..r+12): (M + lambda I) A^T = B + lambda prior^T, by
 * Cholesky. Returns the prior when the system is degenerate.
 */
function solveAffine(mom: Float64Array, m: number, rhs: Float64Array, r: number, lambda: number, prior: Float64Array): Float64Array {
  const M = new Float64Array(16);
  let q = m;
  for (let a = 0; a < 4; a++) {
    for (let b = a; b < 4; b++) {
      M[a * 4 + b] = mom[q];
      M[b * 4 + a] = mom[q++];
    }
    M[a * 4 + a] += lambda;
  }
  // Cholesky M = L L^T.
  const L = new Float64Array(16);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j <= i; j++) {
      let s = M[i * 4 + j];
      for (let k = 0; k < j; k++) s -= L[i * 4 + k] * L[j * 4 + k];
      if (i === j) {
        if (s <= 0) return prior;
        L[i * 4 + i] = Math.sqrt(s);
      } else L[i * 4 + j] = s / L[j * 4 + j];
    }
  }
  const out = new Float64Array(COEFS);
  const y = new Float64Array(4);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < 4; i++) {
      let s = rhs[r + c * 4 + i] + lambda * prior[c * 4 + i];
      for (let k = 0; k < i; k++) s -= L[i * 4 + k] * y[k];
      y[i] = s / L[i * 4 + i];
    }
    for (let i = 3; i >= 0; i--) {
      let s = y[i];
      for (let k = i + 1; k < 4; k++) s -= L[k * 4 + i] * out[c * 4 + k];
      out[c * 4 + i] = s / L[i * 4 + i];
    }
  }
  return out;
}
