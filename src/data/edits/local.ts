import type { Rng } from "../../core/rng.js";
import { createImage, type RgbImage } from "../../image/raster.js";
import type { Background, EditContext, GeneratedEdit, Source } from "../example.js";
import type { LocalRequest, ObjectLooks } from "../language/request.js";
import { say } from "../phrasing.js";
import {
  COLOR_NAMES,
  type ColorName,
  describe,
  type Position,
  positionOf,
  RADIUS,
  RESIZE_FACTOR,
  type SceneObject,
  SHAPES,
  type Shape,
  type Size,
  TEXTURES,
} from "../scene/objects.js";
import { apart, markCoverage, renderScene } from "../scene/render.js";

/**
 * Local object edits (the paper's MagicBrush): scenes of shapes over real-photo, flat or gradient
 * backgrounds, with recolour / remove / add / move / resize / reshape. Scenes are rendered from
 * their object list, so the target is exact and the mask is the union of the pixels the edited
 * object covers before and after. Four families are ambiguous by construction: the instruction
 * ("remove the biggest object") names the object only through the scene.
 */

const GAP = 3;

async function makeBackground(ctx: EditContext): Promise<{ image: RgbImage; bg: Background }> {
  const { rng, res } = ctx;
  const type = rng.weighted([
    ["photo", 2],
    ["flat", 1],
    ["gradient", 1],
  ] as const);
  if (type === "photo") {
    const { image, ref } = await ctx.photos.crop(rng, ctx.split, res);
    return { image, bg: { type: "photo", crop: ref } };
  }
  const colour = (): [number, number, number] => [rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85)];
  if (type === "flat") {
    const color = colour();
    return { image: createImage(res, res, color), bg: { type: "flat", color } };
  }
  const from = colour();
  const to = colour();
  const vertical = rng.chance(0.5);
  const image = createImage(res, res);
  for (let y = 0; y < res; y++) {
    for (let x = 0; x < res; x++) {
      const t = (vertical ? y : x) / (res - 1);
      const i = (y * res + x) * 3;
      for (let c = 0; c < 3; c++) image.data[i + c] = from[c] * (1 - t) + to[c] * t;
    }
  }
  return { image, bg: { type: "gradient", from, to, vertical } };
}

function radiusFor(rng: Rng, size: Size, res: number): number {
  const [lo, hi] = RADIUS[size];
  return rng.uniform(lo, hi) * res;
}

function angleFor(rng: Rng, shape: Shape): number {
  return shape === "circle" ? 0 : rng.uniform(-0.25, 0.25);
}

function fits(o: SceneObject, others: readonly SceneObject[], res: number): boolean {
  const m = o.r * 1.1 + 1;
  return o.cx >= m && o.cx <= res - m && o.cy >= m && o.cy <= res - m && others.every((p) => apart(o, p, GAP));
}

/** Places an object with the given looks at a random free spot, or returns null. */
function place(rng: Rng, res: number, looks: Pick<SceneObject, "shape" | "color" | "size">, others: readonly SceneObject[]): SceneObject | null {
  const r = radiusFor(rng, looks.size, res);
  const o: SceneObject = { ...looks, texture: rng.pick(TEXTURES), r, cx: 0, cy: 0, angle: angleFor(rng, looks.shape) };
  for (let t = 0; t < 100; t++) {
    o.cx = rng.uniform(r * 1.1 + 1, res - r * 1.1 - 1);
    o.cy = rng.uniform(r * 1.1 + 1, res - r * 1.1 - 1);
    if (fits(o, others, res)) return o;
  }
  return null;
}

/** Places objects of the given looks; null when they do not fit. */
function placeAll(rng: Rng, res: number, looks: Pick<SceneObject, "shape" | "color" | "size">[]): SceneObject[] | null {
  const out: SceneObject[] = [];
  for (const l of looks) {
    const o = place(rng, res, l, out);
    if (!o) return null;
    out.push(o);
  }
  return out;
}

function otherThan<T>(rng: Rng, items: readonly T[], not: T): T {
  return rng.pick(items.filter((i) => i !== not));
}

/** Looks for n objects whose (colour, shape) pairs are all different. */
function distinctLooks(rng: Rng, n: number): Pick<SceneObject, "shape" | "color" | "size">[] {
  const seen = new Set<string>();
  const out: Pick<SceneObject, "shape" | "color" | "size">[] = [];
  while (out.length < n) {
    const l = { shape: rng.pick(SHAPES), color: rng.pick(COLOR_NAMES), size: rng.chance(0.5) ? ("small" as const) : ("large" as const) };
    const key = `${l.color} ${l.shape}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(l);
  }
  return out;
}

function looksOf(o: SceneObject): ObjectLooks {
  return { size: o.size, color: o.color, shape: o.shape };
}

/** A change to one object of a scene: `after` is null for a removal, `before` null for an addition. */
interface Change {
  op: string;
  /** What is asked, without the scene (added once the scene is final). */
  request: LocalRequest;
  params: GeneratedEdit["params"];
  before: SceneObject | null;
  after: SceneObject | null;
  instruction: string[];
  expressive: string;
}

/** How a person names an object that is unique by colour and shape in its scene. */
function refer(rng: Rng, o: SceneObject): string {
  return rng.chance(0.3) ? `the ${o.size} ${o.color} ${o.shape}` : `the ${o.color} ${o.shape}`;
}

const recolourPhrasings = (ref: string, c: ColorName): string[] => [
  `make ${ref} ${c}`,
  `change ${ref} to ${c}`,
  `paint ${ref} ${c}`,
  `recolour ${ref} ${c}`,
  `can you turn ${ref} ${c}?`,
  `I want ${ref} to be ${c}`,
];

function recolour(rng: Rng, o: SceneObject, to: ColorName, instruction?: string[]): Change {
  return {
    op: "recolour",
    request: { op: "recolour", object: looksOf(o), color: to, scene: [] },
    params: { object: describe(o), color: to },
    before: o,
    after: { ...o, color: to },
    instruction: instruction ?? recolourPhrasings(refer(rng, o), to),
    expressive: `make the ${describe(o)} ${to}`,
  };
}

function remove(rng: Rng, o: SceneObject, instruction?: string[]): Change {
  const ref = refer(rng, o);
  return {
    op: "remove",
    request: { op: "remove", object: looksOf(o), scene: [] },
    params: { object: describe(o) },
    before: o,
    after: null,
    instruction: instruction ?? [
      `remove ${ref}`,
      `delete ${ref}`,
      `get rid of ${ref}`,
      `take out ${ref}`,
      `erase ${ref}`,
      `can you remove ${ref} from the picture?`,
    ],
    expressive: `remove the ${describe(o)}`,
  };
}

function where(p: Position): string {
  if (p === "centre") return "in the middle";
  return p.includes(" ") ? `in the ${p} corner` : p === "top" || p === "bottom" ? `at the ${p}` : `on the ${p}`;
}

function add(rng: Rng, scene: readonly SceneObject[], res: number): Change | null {
  const looks = distinctLooks(rng, 1)[0];
  const taken = new Set(scene.map((o) => `${o.color} ${o.shape}`));
  if (taken.has(`${looks.color} ${looks.shape}`)) return null;
  const o = place(rng, res, looks, scene);
  if (!o) return null;
  const pos = positionOf(o.cx, o.cy, res);
  const desc = describe(o);
  const loc = where(pos);
  return {
    op: "add",
    request: { op: "add", object: looksOf(o), position: pos, scene: [] },
    params: { object: desc, position: pos },
    before: null,
    after: o,
    instruction: [`add a ${desc} ${loc}`, `put a ${desc} ${loc}`, `draw a ${desc} ${loc}`, `I'd like a ${desc} ${loc}`, `insert a ${desc} ${loc}`],
    expressive: `add a ${desc} at the ${pos}`,
  };
}

const DIRECTIONS = { left: [-1, 0], right: [1, 0], up: [0, -1], down: [0, 1] } as const;
type Direction = keyof typeof DIRECTIONS;

function move(rng: Rng, o: SceneObject, scene: readonly SceneObject[], res: number): Change | null {
  const others = scene.filter((p) => p !== o);
  const dist = rng.uniform(0.22, 0.3) * res;
  for (const dir of rng.shuffle(Object.keys(DIRECTIONS) as Direction[])) {
    const [dx, dy] = DIRECTIONS[dir];
    const moved = { ...o, cx: o.cx + dx * dist, cy: o.cy + dy * dist };
    if (!fits(moved, others, res)) continue;
    const ref = refer(rng, o);
    const to = dir === "left" || dir === "right" ? `to the ${dir}` : dir;
    return {
      op: "move",
      request: { op: "move", object: looksOf(o), direction: dir, scene: [] },
      params: { object: describe(o), direction: dir, distance: dist },
      before: o,
      after: moved,
      instruction: [`move ${ref} ${to}`, `shift ${ref} ${to}`, `push ${ref} ${to} a bit`, `slide ${ref} ${to}`, `could you move ${ref} ${to}?`],
      expressive: `move the ${describe(o)} ${dir}`,
    };
  }
  return null;
}

function resize(rng: Rng, o: SceneObject, scene: readonly SceneObject[], res: number): Change | null {
  const bigger = o.size === "small";
  const after: SceneObject = { ...o, size: bigger ? "large" : "small", r: bigger ? o.r * RESIZE_FACTOR : o.r / RESIZE_FACTOR };
  if (
    !fits(
      after,
      scene.filter((p) => p !== o),
      res,
    )
  )
    return null;
  const ref = refer(rng, o);
  const word = bigger ? "bigger" : "smaller";
  return {
    op: "resize",
    request: { op: "resize", object: looksOf(o), bigger, scene: [] },
    params: { object: describe(o), scale: after.r / o.r },
    before: o,
    after,
    instruction: bigger
      ? [`make ${ref} bigger`, `enlarge ${ref}`, `scale up ${ref}`, `${ref} should be larger`, `blow up ${ref}`]
      : [`make ${ref} smaller`, `shrink ${ref}`, `scale down ${ref}`, `${ref} should be smaller`, `make ${ref} tiny`],
    expressive: `make the ${describe(o)} ${word}`,
  };
}

function reshape(rng: Rng, o: SceneObject, scene: readonly SceneObject[]): Change | null {
  const shape = otherThan(rng, SHAPES, o.shape);
  if (scene.some((p) => p.color === o.color && p.shape === shape)) return null;
  const ref = refer(rng, o);
  return {
    op: "reshape",
    request: { op: "reshape", object: looksOf(o), shape, scene: [] },
    params: { object: describe(o), shape },
    before: o,
    after: { ...o, shape, angle: angleFor(rng, shape) },
    instruction: [
      `turn ${ref} into a ${shape}`,
      `change ${ref} into a ${shape}`,
      `make ${ref} a ${shape} instead`,
      `replace ${ref} with a ${o.color} ${shape}`,
      `reshape ${ref} into a ${shape}`,
    ],
    expressive: `turn the ${describe(o)} into a ${shape}`,
  };
}

/** A scene of 2-5 distinct objects and one plainly described edit of it. */
function explicitEdit(rng: Rng, res: number): { scene: SceneObject[]; change: Change } | null {
  const scene = placeAll(rng, res, distinctLooks(rng, rng.int(2, 5)));
  if (!scene) return null;
  const o = rng.pick(scene);
  const op = rng.weighted([
    ["recolour", 3],
    ["remove", 3],
    ["add", 2],
    ["move", 2],
    ["resize", 2],
    ["reshape", 2],
  ] as const);
  let change: Change | null;
  switch (op) {
    case "recolour":
      change = recolour(rng, o, otherThan(rng, COLOR_NAMES, o.color));
      break;
    case "remove":
      change = remove(rng, o);
      break;
    case "add":
      change = add(rng, scene, res);
      break;
    case "move":
      change = move(rng, o, scene, res);
      break;
    case "resize":
      change = resize(rng, o, scene, res);
      break;
    case "reshape":
      change = reshape(rng, o, scene);
      break;
  }
  return change ? { scene, change } : null;
}

const LOCAL_FAMILIES: Record<string, string[]> = {
  "odd-shape": ["make the odd one out {c}", "recolour the shape that doesn't belong {c}", "paint the odd shape {c}", "colour the different one {c}"],
  "odd-colour": [
    "make the odd colour match the rest",
    "make them all the same colour",
    "recolour the one that doesn't match",
    "make all the shapes one colour",
  ],
  biggest: ["remove the biggest object", "get rid of the largest shape", "delete the biggest one", "take out the largest thing"],
  smallest: ["remove the smallest object", "get rid of the tiniest shape", "delete the smallest one", "take out the smallest thing"],
};

/** A scene built so that the vague instruction of `family` picks out exactly one object. */
function ambiguousEdit(rng: Rng, res: number, family: string): { scene: SceneObject[]; change: Change } | null {
  const n = rng.int(3, 4);
  const phrasings = LOCAL_FAMILIES[family];
  switch (family) {
    case "odd-shape": {
      const [common, odd] = rng.shuffle(SHAPES);
      const colours = rng.shuffle(COLOR_NAMES).slice(0, n);
      const looks = colours.map((color, i) => ({ shape: i === 0 ? odd : common, color, size: rng.chance(0.5) ? ("small" as const) : ("large" as const) }));
      const scene = placeAll(rng, res, rng.shuffle(looks));
      if (!scene) return null;
      const target = scene.find((o) => o.shape === odd)!;
      const to = otherThan(rng, COLOR_NAMES, target.color);
      const change = recolour(
        rng,
        target,
        to,
        phrasings.map((p) => p.replace("{c}", to)),
      );
      return { scene, change: { ...change, request: { op: "recolour", object: looksOf(target), color: to, family, scene: [] } } };
    }
    case "odd-colour": {
      const [common, odd] = rng.shuffle(COLOR_NAMES);
      const shapes = rng.shuffle(SHAPES).slice(0, n);
      const looks = shapes.map((shape, i) => ({ shape, color: i === 0 ? odd : common, size: rng.chance(0.5) ? ("small" as const) : ("large" as const) }));
      const scene = placeAll(rng, res, rng.shuffle(looks));
      if (!scene) return null;
      const target = scene.find((o) => o.color === odd)!;
      const change = recolour(rng, target, common, phrasings);
      return { scene, change: { ...change, request: { op: "recolour", object: looksOf(target), color: common, family, scene: [] } } };
    }
    case "biggest":
    case "smallest": {
      const one: Size = family === "biggest" ? "large" : "small";
      const rest: Size = one === "large" ? "small" : "large";
      const looks = distinctLooks(rng, family === "smallest" ? 3 : n).map((l, i) => ({ ...l, size: i === 0 ? one : rest }));
      const scene = placeAll(rng, res, rng.shuffle(looks));
      if (!scene) return null;
      const target = scene.find((o) => o.size === one)!;
      return { scene, change: { ...remove(rng, target, phrasings), request: { op: "remove", object: looksOf(target), family, scene: [] } } };
    }
  }
  throw new RangeError(`unknown local ambiguity family '${family}'`);
}

/** Share of local edits built around an ambiguous instruction. */
const AMBIGUOUS_SHARE = 0.4;

/** The change `r` asks for of the scene `scene` (whose objects have r's looks), or null when it does not fit here. */
function requestedChange(rng: Rng, r: LocalRequest, scene: SceneObject[], res: number): Change | null {
  const o = scene.find((p) => p.color === r.object.color && p.shape === r.object.shape);
  const others = scene.filter((p) => p !== o);
  const base = { op: r.op, request: r, params: {}, instruction: [], expressive: "" };
  switch (r.op) {
    case "recolour":
      return o ? { ...base, before: o, after: { ...o, color: r.color } } : null;
    case "remove":
      return o ? { ...base, before: o, after: null } : null;
    case "add": {
      for (let t = 0; t < 200; t++) {
        const added = place(rng, res, r.object, scene);
        if (added && positionOf(added.cx, added.cy, res) === r.position) return { ...base, before: null, after: added };
      }
      return null;
    }
    case "move": {
      if (!o) return null;
      const [dx, dy] = DIRECTIONS[r.direction];
      const dist = rng.uniform(0.22, 0.3) * res;
      const moved = { ...o, cx: o.cx + dx * dist, cy: o.cy + dy * dist };
      return fits(moved, others, res) ? { ...base, before: o, after: moved } : null;
    }
    case "resize": {
      if (!o) return null;
      const after: SceneObject = { ...o, size: r.bigger ? "large" : "small", r: r.bigger ? o.r * RESIZE_FACTOR : o.r / RESIZE_FACTOR };
      return fits(after, others, res) ? { ...base, before: o, after } : null;
    }
    case "reshape":
      return o ? { ...base, before: o, after: { ...o, shape: r.shape, angle: angleFor(rng, r.shape) } } : null;
  }
}

/**
 * An example of a given local request on a scene of its objects (for test sets written as requests, such
 * as the hand-written one): input, target and mask; or, for `r` null, the scene alone, unedited.
 */
export async function requestedLocalEdit(
  ctx: EditContext,
  looks: readonly ObjectLooks[],
  r: LocalRequest | null,
): Promise<{ input: RgbImage; target: RgbImage; mask: Uint8Array; source: Source }> {
  const { rng, res } = ctx;
  const { image: bgImage, bg } = await makeBackground(ctx);
  for (let attempt = 0; attempt < 200; attempt++) {
    const scene = placeAll(rng, res, [...looks]);
    if (!scene) continue;
    const change = r ? requestedChange(rng, r, scene, res) : null;
    if (r && !change) continue;
    const after = change ? scene.flatMap((o) => (o === change.before ? (change.after ? [change.after] : []) : [o])) : scene;
    if (change && !change.before && change.after) after.push(change.after);
    const mask = new Uint8Array(res * res);
    if (change)
      markCoverage(
        mask,
        [change.before, change.after].filter((o): o is SceneObject => o !== null),
        res,
      );
    return { input: renderScene(bgImage, scene), target: renderScene(bgImage, after), mask, source: { type: "scene", background: bg, objects: scene } };
  }
  throw new Error(`could not lay out a scene of ${looks.length} objects for '${r?.op ?? "no edit"}' at ${res}x${res}`);
}

export async function localEdit(ctx: EditContext): Promise<GeneratedEdit> {
  const { rng, res } = ctx;
  const { image: bgImage, bg } = await makeBackground(ctx);
  const family = rng.chance(AMBIGUOUS_SHARE) ? rng.pick(Object.keys(LOCAL_FAMILIES)) : null;
  let made: { scene: SceneObject[]; change: Change } | null = null;
  for (let attempt = 0; attempt < 200 && !made; attempt++) {
    made = family ? ambiguousEdit(rng, res, family) : explicitEdit(rng, res);
  }
  if (!made) throw new Error(`could not lay out a ${family ?? "local"} scene at ${res}x${res}; use a resolution of at least 32`);
  const { scene, change } = made;
  const after = scene.flatMap((o) => (o === change.before ? (change.after ? [change.after] : []) : [o]));
  if (!change.before && change.after) after.push(change.after);
  const mask = new Uint8Array(res * res);
  markCoverage(
    mask,
    [change.before, change.after].filter((o): o is SceneObject => o !== null),
    res,
  );
  return {
    kind: "local",
    op: change.op,
    request: { ...change.request, scene: scene.map(looksOf) },
    params: change.params,
    instruction: say(rng, change.instruction),
    expressive: change.expressive,
    ambiguity: family,
    source: { type: "scene", background: bg, objects: scene },
    input: renderScene(bgImage, scene),
    target: renderScene(bgImage, after),
    mask,
  };
}
