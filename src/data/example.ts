import type { Rng } from "../core/rng.js";
import type { RgbImage } from "../image/raster.js";
import type { EditRequest } from "./language/request.js";
import type { CropRef, PhotoLibrary } from "./photos.js";
import type { SceneObject } from "./scene/objects.js";
import type { Split } from "./splits.js";

/** The three kinds of edit in the paper: Photoshop-style (GIER), global optimisation (MA5k), local objects (MagicBrush). */
export const EDIT_KINDS = ["photoshop", "global", "local"] as const;
export type EditKind = (typeof EDIT_KINDS)[number];

export type Background =
  | { type: "photo"; crop: CropRef }
  | { type: "flat"; color: [number, number, number] }
  | { type: "gradient"; from: [number, number, number]; to: [number, number, number]; vertical: boolean };

/** What the input image was made from. */
export type Source = { type: "photo"; crop: CropRef } | { type: "scene"; background: Background; objects: SceneObject[] };

/** One generated edit before it is numbered: what a generator for one operation returns. */
export interface GeneratedEdit {
  kind: EditKind;
  op: string;
  params: Record<string, string | number | boolean>;
  /** What the instruction asks for, as data (the language side words it: language/phrase.ts). */
  request: EditRequest;
  /** The instruction as a person would say it. */
  instruction: string;
  /** The concise, unambiguous instruction a model should derive (under 32 tokens). */
  expressive: string;
  /** Name of the ambiguity family when the instruction cannot be resolved without looking, else null. */
  ambiguity: string | null;
  source: Source;
  input: RgbImage;
  target: RgbImage;
  /** One byte per pixel: 1 where the edit is allowed to change the image. */
  mask: Uint8Array;
}

export interface EditExample extends GeneratedEdit {
  id: string;
  split: Split;
  index: number;
  seed: number;
  /** synthedit-2: whether the instruction uses wording only its split has (see language/wording.ts). */
  heldOutWording?: boolean;
}

export interface EditContext {
  rng: Rng;
  res: number;
  split: Split;
  photos: PhotoLibrary;
}

export function fullMask(res: number): Uint8Array {
  return new Uint8Array(res * res).fill(1);
}
