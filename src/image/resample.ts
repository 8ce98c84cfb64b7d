/**
 * Resampling of 8-bit interleaved images in plain TypeScript, for the browser, where sharp is not:
 * the same method as libvips' resize with the Lanczos 3 kernel, which sharp uses in Node: an integer
 * box shrink down to at most twice the target size, then a Lanczos 3 reduction (vertical, then
 * horizontal, rounded to 8 bits in between). Results are within a few levels of libvips, under half a level on average
 * (test/resample.test.ts: not bit for bit, as libvips computes in fixed point): the model sees nearly the same view on both runtimes.
 */

/** libvips' default: box-shrink while the image stays at least this many times the target. */
const GAP = 2;

export interface Plane8 {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/** `img` resized to width x height (each axis on its own, as sharp's fit "fill"). */
export function resizeLanczos3(img: Plane8, width: number, height: number): Plane8 {
  let out = img;
  const vshrink = intShrink(img.height / height);
  const hshrink = intShrink(img.width / width);
  if (vshrink > 1) out = boxShrink(out, 1, vshrink);
  if (hshrink > 1) out = boxShrink(out, hshrink, 1);
  // The residual scale is the whole one over the integer shrink, not the shrunk size's (which the ceil rounds).
  if (out.height !== height || vshrink > 1) out = lanczosAxis(transpose(out), height, img.height / height / vshrink, true);
  if (out.width !== width || hshrink > 1) out = lanczosAxis(out, width, img.width / width / hshrink, false);
  return out;
}

function intShrink(factor: number): number {
  return Math.max(1, Math.floor(factor / GAP));
}

/** Averages blocks of hs x vs pixels (the last block repeats the edge, as libvips' "ceil" shrink). */
function boxShrink(img: Plane8, hs: number, vs: number): Plane8 {
  const { width: w, height: h, channels: c, data } = img;
  const ow = Math.ceil(w / hs);
  const oh = Math.ceil(h / vs);
  const out = new Uint8Array(ow * oh * c);
  const n = hs * vs;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      for (let k = 0; k < c; k++) {
        let sum = 0;
        for (let dy = 0; dy < vs; dy++) {
          const sy = Math.min(h - 1, y * vs + dy);
          for (let dx = 0; dx < hs; dx++) sum += data[(sy * w + Math.min(w - 1, x * hs + dx)) * c + k];
        }
        out[(y * ow + x) * c + k] = Math.floor((sum + (n >> 1)) / n);
      }
    }
  }
  return { width: ow, height: oh, channels: c, data: out };
}

function lanczos3(x: number): number {
  if (x === 0) return 1;
  if (x <= -3 || x >= 3) return 0;
  const px = Math.PI * x;
  return (3 * Math.sin(px) * Math.sin(px / 3)) / (px * px);
}

/**
 * Resamples each row of `img` to `size` pixels (a shrink by `scale`; below 1 an enlargement with the
 * kernel unstretched); pixel centres map as (x + 0.5) * scale - 0.5, edges repeat. With `transposed`,
 * `img` holds the columns as rows and the result is turned back.
 */
function lanczosAxis(img: Plane8, size: number, scale: number, transposed: boolean): Plane8 {
  const { width: w, height: rows, channels: c, data } = img;
  const stretch = Math.max(1, scale);
  const radius = 3 * stretch;
  const out = new Uint8Array(size * rows * c);
  const weights: number[] = [];
  for (let x = 0; x < size; x++) {
    const centre = (x + 0.5) * scale - 0.5;
    const first = Math.floor(centre - radius) + 1;
    const last = Math.floor(centre + radius);
    weights.length = 0;
    let total = 0;
    for (let i = first; i <= last; i++) {
      const wgt = lanczos3((i - centre) / stretch);
      weights.push(wgt);
      total += wgt;
    }
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < c; k++) {
        let sum = 0;
        for (let i = first; i <= last; i++) sum += weights[i - first] * data[(r * w + Math.min(w - 1, Math.max(0, i))) * c + k];
        out[(r * size + x) * c + k] = Math.min(255, Math.max(0, Math.round(sum / total)));
      }
    }
  }
  const result = { width: size, height: rows, channels: c, data: out };
  return transposed ? transpose(result) : result;
}

/** Rows become columns. */
function transpose(img: Plane8): Plane8 {
  const { width: w, height: h, channels: c, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[(x * h + y) * c + k] = data[(y * w + x) * c + k];
  return { width: h, height: w, channels: c, data: out };
}

/** `img` placed at (left, top) of a width x height image, mirrored beyond its edges (sharp's extend "mirror"). */
export function extendMirror(img: Plane8, left: number, top: number, width: number, height: number): Plane8 {
  const { width: w, height: h, channels: c, data } = img;
  const mirror = (v: number, n: number) => {
    const period = 2 * n;
    const m = ((v % period) + period) % period;
    return m < n ? m : period - 1 - m;
  };
  const out = new Uint8Array(width * height * c);
  for (let y = 0; y < height; y++) {
    const sy = mirror(y - top, h);
    for (let x = 0; x < width; x++) {
      const sx = mirror(x - left, w);
      for (let k = 0; k < c; k++) out[(y * width + x) * c + k] = data[(sy * w + sx) * c + k];
    }
  }
  return { width, height, channels: c, data: out };
}

/** A one-channel plane blurred by a Gaussian of `sigma` (cut where it falls below a fifth of its peak, as sharp's blur), edges repeated. */
export function gaussianBlur(img: Plane8, sigma: number): Plane8 {
  const radius = Math.max(1, Math.ceil(sigma * Math.sqrt(2 * Math.log(5))));
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((a, b) => a + b, 0);
  const pass = (p: Plane8): Plane8 => {
    const out = new Uint8Array(p.data.length);
    for (let y = 0; y < p.height; y++) {
      for (let x = 0; x < p.width; x++) {
        let sum = 0;
        for (let i = -radius; i <= radius; i++) sum += kernel[i + radius] * p.data[y * p.width + Math.min(p.width - 1, Math.max(0, x + i))];
        out[y * p.width + x] = Math.round(sum / total);
      }
    }
    return { ...p, data: out };
  };
  return transpose(pass(transpose(pass(img))));
}
