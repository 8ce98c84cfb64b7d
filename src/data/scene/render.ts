import { cloneImage, type RgbImage } from "../../image/raster.js";
import { COLORS, type SceneObject, type Shape } from "./objects.js";

/** Vertices of the polygonal shapes on the unit circle (y points down, so -1 is up). */
const POLYGONS: Partial<Record<Shape, readonly (readonly [number, number])[]>> = {
  triangle: regular(3, 1, -Math.PI / 2),
  hexagon: regular(6, 1, 0),
  star: Array.from({ length: 10 }, (_, i) => {
    const a = -Math.PI / 2 + (i * Math.PI) / 5;
    const rad = i % 2 === 0 ? 1.05 : 0.45;
    return [rad * Math.cos(a), rad * Math.sin(a)] as const;
  }),
};

function regular(n: number, rad: number, start: number): [number, number][] {
  return Array.from({ length: n }, (_, i) => [rad * Math.cos(start + (2 * Math.PI * i) / n), rad * Math.sin(start + (2 * Math.PI * i) / n)]);
}

/** Whether a point in the object's unit frame lies inside its shape. */
function insideUnit(shape: Shape, x: number, y: number): boolean {
  if (shape === "circle") return x * x + y * y <= 1;
  if (shape === "square") return Math.abs(x) <= 0.8 && Math.abs(y) <= 0.8;
  const poly = POLYGONS[shape]!;
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

const SUPERSAMPLE = 4;

export interface Coverage {
  /** Pixel indices (y * res + x) the object touches. */
  index: Int32Array;
  /** Fraction of each of those pixels covered, in (0, 1]. */
  value: Float32Array;
}

const coverageCache = new WeakMap<SceneObject, { res: number; cov: Coverage }>();

/**
 * Fraction of each pixel covered by the object, over the object's bounding box. Pixel corners are
 * tested first; a pixel whose four corners agree counts as fully inside or outside, and only the
 * others are supersampled 4x4. Cached per object, since a scene is rendered and masked several times.
 */
export function coverage(o: SceneObject, res: number): Coverage {
  const hit = coverageCache.get(o);
  if (hit && hit.res === res) return hit.cov;
  const x0 = Math.max(0, Math.floor(o.cx - o.r * 1.1) - 1);
  const x1 = Math.min(res - 1, Math.ceil(o.cx + o.r * 1.1) + 1);
  const y0 = Math.max(0, Math.floor(o.cy - o.r * 1.1) - 1);
  const y1 = Math.min(res - 1, Math.ceil(o.cy + o.r * 1.1) + 1);
  const cos = Math.cos(-o.angle);
  const sin = Math.sin(-o.angle);
  const inside = (px: number, py: number): boolean => {
    const dx = px - o.cx;
    const dy = py - o.cy;
    return insideUnit(o.shape, (dx * cos - dy * sin) / o.r, (dx * sin + dy * cos) / o.r);
  };
  const gw = x1 - x0 + 2;
  const corners = new Uint8Array(gw * (y1 - y0 + 2));
  for (let y = y0; y <= y1 + 1; y++) for (let x = x0; x <= x1 + 1; x++) corners[(y - y0) * gw + (x - x0)] = inside(x, y) ? 1 : 0;
  const idx: number[] = [];
  const val: number[] = [];
  const n = SUPERSAMPLE * SUPERSAMPLE;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const c = (y - y0) * gw + (x - x0);
      const sum = corners[c] + corners[c + 1] + corners[c + gw] + corners[c + gw + 1];
      let frac: number;
      if (sum === 0) frac = 0;
      else if (sum === 4) frac = 1;
      else {
        let hits = 0;
        for (let sy = 0; sy < SUPERSAMPLE; sy++) {
          for (let sx = 0; sx < SUPERSAMPLE; sx++) if (inside(x + (sx + 0.5) / SUPERSAMPLE, y + (sy + 0.5) / SUPERSAMPLE)) hits++;
        }
        frac = hits / n;
      }
      if (frac > 0) {
        idx.push(y * res + x);
        val.push(frac);
      }
    }
  }
  const cov = { index: Int32Array.from(idx), value: Float32Array.from(val) };
  coverageCache.set(o, { res, cov });
  return cov;
}

/** The object's colour at a pixel: its named colour, lightly shaded top to bottom, patterned by its texture. */
function surfaceColor(o: SceneObject, x: number, y: number, res: number, out: Float32Array): void {
  const base = COLORS[o.color];
  const shade = 1.06 - 0.12 * ((y - (o.cy - o.r)) / (2 * o.r));
  let k = shade;
  const period = Math.max(4, Math.round(res / 21));
  if (o.texture === "striped" && Math.floor((x + y) / (period / 2)) % 2 === 0) k *= 0.62;
  if (o.texture === "dotted") {
    const dx = (((x % period) + period) % period) - period / 2;
    const dy = (((y % period) + period) % period) - period / 2;
    if (dx * dx + dy * dy <= (period * period) / 10) k *= 0.55;
  }
  out[0] = Math.min(1, base[0] * k);
  out[1] = Math.min(1, base[1] * k);
  out[2] = Math.min(1, base[2] * k);
}

/** Paints the objects, in order, over a copy of the background. */
export function renderScene(background: RgbImage, objects: readonly SceneObject[]): RgbImage {
  const img = cloneImage(background);
  const res = img.width;
  const col = new Float32Array(3);
  for (const o of objects) {
    const { index, value } = coverage(o, res);
    for (let k = 0; k < index.length; k++) {
      const p = index[k];
      const a = value[k];
      surfaceColor(o, p % res, Math.floor(p / res), res, col);
      const i = p * 3;
      img.data[i] = img.data[i] * (1 - a) + col[0] * a;
      img.data[i + 1] = img.data[i + 1] * (1 - a) + col[1] * a;
      img.data[i + 2] = img.data[i + 2] * (1 - a) + col[2] * a;
    }
  }
  return img;
}

/** Marks (value 1) every pixel that any of the objects touches. */
export function markCoverage(mask: Uint8Array, objects: readonly SceneObject[], res: number): void {
  for (const o of objects) {
    const { index } = coverage(o, res);
    for (let k = 0; k < index.length; k++) mask[index[k]] = 1;
  }
}

/** True when two objects keep at least `gap` pixels between their bounding circles. */
export function apart(a: SceneObject, b: SceneObject, gap: number): boolean {
  const dx = a.cx - b.cx;
  const dy = a.cy - b.cy;
  const min = a.r * 1.1 + b.r * 1.1 + gap;
  return dx * dx + dy * dy >= min * min;
}
