import type { Geometric } from "../ops/filters.js";
import type { ColorName, Position, Shape, Size } from "../scene/objects.js";

/**
 * What an instruction asks for, as data: the meaning every phrasing of an edit shares. Generators
 * return it beside the pixels, and the language side (phrase.ts) turns it into words.
 */
export interface ObjectLooks {
  size: Size;
  color: ColorName;
  shape: Shape;
}

export type Cast = "orange" | "blue" | "green" | "magenta";
export type AmountOp = "brightness" | "contrast" | "saturation";
export type Direction = "left" | "right" | "up" | "down";

export type EditRequest =
  | { op: AmountOp; increase: boolean; percent: 20 | 40 | 60 }
  | { op: "hue"; degrees: 90 | 180 | 270 }
  | { op: "grayscale" | "sepia" | "invert" | "sharpen" | "vignette" }
  | { op: "blur"; strong: boolean }
  | { op: "tint"; color: ColorName }
  | { op: Geometric }
  | { op: "fix-underexposure" | "fix-overexposure" | "boost-dull" | "day-to-night"; family?: GlobalFamily }
  | { op: "remove-cast"; cast: Cast; family?: GlobalFamily }
  | LocalRequest
  | UnsupportedRequest;

/** A local edit of one object of a scene; `scene` is every object, for naming the target briefly. */
export type LocalRequest = { scene: ObjectLooks[] } & (
  | { op: "recolour"; object: ObjectLooks; color: ColorName; family?: "odd-shape" | "odd-colour" }
  | { op: "remove"; object: ObjectLooks; family?: "biggest" | "smallest" }
  | { op: "add"; object: ObjectLooks; position: Position }
  | { op: "move"; object: ObjectLooks; direction: Direction }
  | { op: "resize"; object: ObjectLooks; bigger: boolean }
  | { op: "reshape"; object: ObjectLooks; shape: Shape }
);

/** A request the editor cannot do: an edit outside its repertoire, or one of an object the scene lacks. */
export type UnsupportedRequest =
  | { op: "unsupported"; reason: "repertoire"; scene: ObjectLooks[] | null }
  | { op: "unsupported"; reason: "absent"; scene: ObjectLooks[]; object: Pick<ObjectLooks, "color" | "shape">; asked: LocalRequest["op"] };

export type GlobalFamily = "fix-lighting" | "fix-colour" | "enhance";

/** The expressive instruction of a request mgie cannot do (the editor leaves the image alone). */
export function unsupportedExpressive(r: UnsupportedRequest): string {
  return r.reason === "absent" ? `unsupported: there is no ${r.object.color} ${r.object.shape}` : "unsupported request";
}
