/** The vocabulary of SynthEdit scenes: shapes, named colours, sizes, textures, positions. */

export const SHAPES = ["circle", "square", "triangle", "star", "hexagon"] as const;
export type Shape = (typeof SHAPES)[number];

export const COLORS = {
  red: [0.86, 0.12, 0.12],
  orange: [1.0, 0.55, 0.05],
  yellow: [0.98, 0.86, 0.1],
  green: [0.13, 0.66, 0.2],
  blue: [0.12, 0.33, 0.9],
  purple: [0.55, 0.18, 0.76],
  pink: [1.0, 0.5, 0.75],
  white: [0.97, 0.97, 0.97],
} as const satisfies Record<string, readonly [number, number, number]>;
export type ColorName = keyof typeof COLORS;
export const COLOR_NAMES = Object.keys(COLORS) as ColorName[];

export type Size = "small" | "large";
/** Radius of an object as a fraction of the image side. */
export const RADIUS: Record<Size, readonly [number, number]> = { small: [0.075, 0.095], large: [0.14, 0.165] };
/** Resizing an object multiplies its radius by this (or divides by it). */
export const RESIZE_FACTOR = 1.75;

export const TEXTURES = ["solid", "striped", "dotted"] as const;
export type Texture = (typeof TEXTURES)[number];

export interface SceneObject {
  shape: Shape;
  color: ColorName;
  size: Size;
  texture: Texture;
  /** Centre and radius in pixels. */
  cx: number;
  cy: number;
  r: number;
  /** Rotation in radians (small, so a triangle still points up). */
  angle: number;
}

/** Canonical, unambiguous name of an object: "small red circle". */
export function describe(o: Pick<SceneObject, "size" | "color" | "shape">): string {
  return `${o.size} ${o.color} ${o.shape}`;
}

/** The nine regions of a 3x3 grid, by name. */
export const POSITIONS = ["top left", "top", "top right", "left", "centre", "right", "bottom left", "bottom", "bottom right"] as const;
export type Position = (typeof POSITIONS)[number];

export function positionOf(cx: number, cy: number, res: number): Position {
  const col = Math.min(2, Math.floor((cx / res) * 3));
  const row = Math.min(2, Math.floor((cy / res) * 3));
  return POSITIONS[row * 3 + col];
}
