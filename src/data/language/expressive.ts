import { COLOR_NAMES, POSITIONS, SHAPES, type Size } from "../scene/objects.js";

/**
 * Every expressive instruction SynthEdit gives, in the generators' words: what a model trained on it
 * is allowed to say. The runtime decodes only these (constrained decoding), so a garbled instruction
 * never reaches the editor. A test checks that the generators give nothing outside this list.
 */
const AMOUNT_OPS = ["brightness", "contrast", "saturation"];
const TINTS = ["red", "orange", "yellow", "green", "blue", "purple", "pink"];
const CASTS = ["orange", "blue", "green", "magenta"];
const DIRECTIONS = ["left", "right", "up", "down"];
const SIZES: Size[] = ["small", "large"];

export function expressiveCatalogue(): string[] {
  const out: string[] = [];
  for (const op of AMOUNT_OPS) for (const way of ["increase", "decrease"]) for (const p of [20, 40, 60]) out.push(`${way} the ${op} by ${p}%`);
  for (const d of [90, 180, 270]) out.push(`shift the hue by ${d} degrees`);
  out.push("convert the image to grayscale", "apply a sepia tone", "invert the colours", "apply a light blur", "apply a strong blur");
  out.push("sharpen the image", "add a dark vignette", ...TINTS.map((c) => `add a ${c} tint`));
  out.push("flip the image horizontally", "flip the image vertically", "rotate the image 90 degrees clockwise", "rotate the image 180 degrees");
  out.push("rotate the image 90 degrees counterclockwise");
  out.push("brighten the underexposed photo", "darken the overexposed photo", ...CASTS.map((c) => `remove the ${c} colour cast`));
  out.push("boost the contrast and saturation", "turn the day scene into night");
  for (const size of SIZES) {
    for (const color of COLOR_NAMES) {
      for (const shape of SHAPES) {
        const o = `${size} ${color} ${shape}`;
        for (const to of COLOR_NAMES) if (to !== color) out.push(`make the ${o} ${to}`);
        out.push(`remove the ${o}`, ...POSITIONS.map((p) => `add a ${o} at the ${p}`), ...DIRECTIONS.map((d) => `move the ${o} ${d}`));
        out.push(`make the ${o} ${size === "small" ? "bigger" : "smaller"}`);
        for (const s of SHAPES) if (s !== shape) out.push(`turn the ${o} into a ${s}`);
      }
    }
  }
  out.push("unsupported request");
  for (const color of COLOR_NAMES) for (const shape of SHAPES) out.push(`unsupported: there is no ${color} ${shape}`);
  return out;
}
