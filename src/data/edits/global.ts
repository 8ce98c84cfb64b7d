import type { Rng } from "../../core/rng.js";
import type { RgbImage } from "../../image/raster.js";
import { type EditContext, fullMask, type GeneratedEdit, type Source } from "../example.js";
import type { Cast, EditRequest, GlobalFamily } from "../language/request.js";
import * as f from "../ops/filters.js";
import { say } from "../phrasing.js";

/**
 * Global photo optimisation (the paper's MA5k): the input is a real photo with a known defect
 * (under/over-exposure, a colour cast, dullness) and the target is the photo without it; "day to
 * night" goes the other way. Vague requests ("fix the lighting") are ambiguous: only the image says
 * which correction is meant.
 */

const CASTS = {
  orange: [1.18, 1.0, 0.68],
  blue: [0.72, 0.92, 1.2],
  green: [0.85, 1.15, 0.8],
  magenta: [1.12, 0.78, 1.12],
} as const satisfies Record<Cast, readonly [number, number, number]>;

interface Defect {
  op: string;
  request: Extract<EditRequest, { op: "fix-underexposure" | "fix-overexposure" | "boost-dull" | "day-to-night" | "remove-cast" }>;
  params: GeneratedEdit["params"];
  /** Produces (input, target) from the clean photo. */
  make: (photo: RgbImage) => { input: RgbImage; target: RgbImage };
  instruction: string[];
  expressive: string;
  /** Ambiguity families whose vague phrasings also fit this defect. */
  families: GlobalFamily[];
}

const GLOBAL_FAMILIES: Record<GlobalFamily, string[]> = {
  "fix-lighting": ["fix the lighting", "the exposure is off, fix it", "correct the exposure", "make the lighting look right", "fix the brightness"],
  "fix-colour": ["fix the colours", "the colours look wrong", "correct the white balance", "make the colours look natural", "fix the colour balance"],
  enhance: ["make it look better", "enhance this photo", "fix this photo", "improve the picture", "make it look professional", "touch it up"],
};

function underexposed(rng: Rng): Defect {
  const gamma = rng.uniform(1.6, 2.2);
  const darken = rng.uniform(0.15, 0.35);
  return {
    op: "fix-underexposure",
    request: { op: "fix-underexposure" },
    params: { gamma, darken },
    make: (photo) => ({ input: f.brightness(f.gammaCurve(photo, gamma), -darken), target: photo }),
    instruction: [
      "it's too dark, brighten it",
      "the photo is underexposed",
      "fix the underexposure",
      "lighten this dark photo",
      "I can barely see anything, make it brighter",
    ],
    expressive: "brighten the underexposed photo",
    families: ["fix-lighting", "enhance"],
  };
}

function overexposed(rng: Rng): Defect {
  const gamma = rng.uniform(1.8, 2.6);
  return {
    op: "fix-overexposure",
    request: { op: "fix-overexposure" },
    params: { gamma },
    make: (photo) => ({ input: f.invert(f.gammaCurve(f.invert(photo), gamma)), target: photo }),
    instruction: [
      "it's too bright, fix it",
      "the photo is overexposed",
      "tone down the overexposure",
      "it looks washed out from too much light",
      "darken this blown-out photo",
    ],
    expressive: "darken the overexposed photo",
    families: ["fix-lighting", "enhance"],
  };
}

function colourCast(rng: Rng, given?: Cast): Defect {
  const cast = given ?? rng.pick(Object.keys(CASTS) as Cast[]);
  const s = rng.uniform(0.7, 1.0);
  const gains = CASTS[cast].map((g) => 1 + s * (g - 1)) as [number, number, number];
  const words: Record<Cast, string[]> = {
    orange: ["remove the orange cast", "it looks too warm, fix it", "take out the orange tint", "the photo is too yellow-orange"],
    blue: ["remove the blue cast", "it looks too cold, fix it", "take out the blue tint", "everything looks bluish"],
    green: ["remove the green cast", "there is a green tint, fix it", "take out the greenish tint", "everything looks sickly green"],
    magenta: ["remove the magenta cast", "it looks too pink, fix it", "take out the purple-pink tint", "everything looks magenta"],
  };
  return {
    op: "remove-cast",
    request: { op: "remove-cast", cast },
    params: { cast, strength: s },
    make: (photo) => ({ input: f.channelGains(photo, gains), target: photo }),
    instruction: words[cast],
    expressive: `remove the ${cast} colour cast`,
    families: ["fix-colour", "enhance"],
  };
}

function dull(rng: Rng): Defect {
  const c = rng.uniform(0.35, 0.5);
  const s = rng.uniform(0.4, 0.6);
  return {
    op: "boost-dull",
    request: { op: "boost-dull" },
    params: { contrast: -c, saturation: -s },
    make: (photo) => ({ input: f.saturation(f.contrast(photo, -c), -s), target: photo }),
    instruction: [
      "make it less dull",
      "the photo looks flat, make it pop",
      "liven up this dull picture",
      "it's so dull, give it some life",
      "make it less washed-out and grey",
    ],
    expressive: "boost the contrast and saturation",
    families: ["enhance"],
  };
}

/** The "day to night" look: darker, cooler, less saturated. */
export function toNight(img: RgbImage): RgbImage {
  return f.brightness(f.channelGains(f.saturation(f.gammaCurve(img, 1.5), -0.5), [0.55, 0.7, 1.0]), -0.3);
}

function dayToNight(): Defect {
  return {
    op: "day-to-night",
    request: { op: "day-to-night" },
    params: {},
    make: (photo) => ({ input: photo, target: toNight(photo) }),
    instruction: [
      "turn day into night",
      "make it night time",
      "make it look like it was taken at night",
      "change the scene to night",
      "make it dark like midnight",
    ],
    expressive: "turn the day scene into night",
    families: [],
  };
}

const DEFECTS: readonly (readonly [(rng: Rng) => Defect, number])[] = [
  [underexposed, 3],
  [overexposed, 3],
  [colourCast, 3],
  [dull, 2],
  [dayToNight, 1],
];

/** Share of global edits phrased vaguely (ambiguous without the image). */
const AMBIGUOUS_SHARE = 0.5;

export type CorrectionRequest = Extract<EditRequest, { op: "fix-underexposure" | "fix-overexposure" | "boost-dull" | "day-to-night" | "remove-cast" }>;

const DEFECT_OF: Record<CorrectionRequest["op"], (rng: Rng, r: CorrectionRequest) => Defect> = {
  "fix-underexposure": underexposed,
  "fix-overexposure": overexposed,
  "boost-dull": dull,
  "day-to-night": dayToNight,
  "remove-cast": (rng, r) => colourCast(rng, r.op === "remove-cast" ? r.cast : undefined),
};

/** An example of a given global correction (for test sets written as requests): a photo of the split with the defect, and its fix. */
export async function requestedCorrection(ctx: EditContext, r: CorrectionRequest): Promise<{ input: RgbImage; target: RgbImage; source: Source }> {
  const { image, ref } = await ctx.photos.crop(ctx.rng, ctx.split, ctx.res);
  return { ...DEFECT_OF[r.op](ctx.rng, r).make(image), source: { type: "photo", crop: ref } };
}

export async function globalEdit(ctx: EditContext): Promise<GeneratedEdit> {
  const { rng } = ctx;
  const { image, ref } = await ctx.photos.crop(rng, ctx.split, ctx.res);
  const defect = rng.weighted(DEFECTS)(rng);
  const family = defect.families.length > 0 && rng.chance(AMBIGUOUS_SHARE) ? rng.pick(defect.families) : null;
  const { input, target } = defect.make(image);
  return {
    kind: "global",
    op: defect.op,
    request: family ? { ...defect.request, family } : defect.request,
    params: defect.params,
    instruction: say(rng, family ? GLOBAL_FAMILIES[family] : defect.instruction),
    expressive: defect.expressive,
    ambiguity: family,
    source: { type: "photo", crop: ref },
    input,
    target,
    mask: fullMask(ctx.res),
  };
}
