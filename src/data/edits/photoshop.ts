import type { RgbImage } from "../../image/raster.js";
import { type EditContext, fullMask, type GeneratedEdit } from "../example.js";
import type { AmountOp, EditRequest } from "../language/request.js";
import * as f from "../ops/filters.js";
import { amountWords, say } from "../phrasing.js";
import { COLORS, type ColorName } from "../scene/objects.js";

/** Photoshop-style edits (the paper's GIER/EVR): one exact filter over the whole photo. */

interface Filter {
  op: string;
  request: PhotoRequest;
  params: GeneratedEdit["params"];
  instruction: string[];
  expressive: string;
}

type FilterMaker = (ctx: EditContext) => Filter;

/** A filter with a signed strength of 20, 40 or 60 percent. */
function amountFilter(op: AmountOp, phrasings: { more: string[]; less: string[] }): FilterMaker {
  return ({ rng }) => {
    const percent = rng.pick([20, 40, 60] as const);
    const increase = rng.chance(0.5);
    const amount = (increase ? percent : -percent) / 100;
    const { adverb, number } = amountWords(percent);
    return {
      op,
      request: { op, increase, percent },
      params: { amount },
      instruction: (increase ? phrasings.more : phrasings.less).map((t) => t.replace("{adv}", adverb).replace("{n}", number).replace(/\s+/g, " ").trim()),
      expressive: `${increase ? "increase" : "decrease"} the ${op} by ${percent}%`,
    };
  };
}

const TINTS: ColorName[] = ["red", "orange", "yellow", "green", "blue", "purple", "pink"];
const GEOMETRIC: { op: f.Geometric; expressive: string; instruction: string[] }[] = [
  {
    op: "flip-horizontal",
    expressive: "flip the image horizontally",
    instruction: ["flip it horizontally", "mirror the image", "flip the picture left to right", "can you mirror this photo?"],
  },
  {
    op: "flip-vertical",
    expressive: "flip the image vertically",
    instruction: ["flip it vertically", "flip the picture top to bottom", "mirror it vertically", "flip it upside down"],
  },
  {
    op: "rotate-90",
    expressive: "rotate the image 90 degrees clockwise",
    instruction: ["rotate it clockwise", "turn the photo 90 degrees to the right", "rotate right by a quarter turn", "rotate 90° clockwise"],
  },
  {
    op: "rotate-180",
    expressive: "rotate the image 180 degrees",
    instruction: ["rotate it 180 degrees", "turn the picture round by half a turn", "spin it half a turn", "rotate by 180°"],
  },
  {
    op: "rotate-270",
    expressive: "rotate the image 90 degrees counterclockwise",
    instruction: ["rotate it counterclockwise", "turn the photo 90 degrees to the left", "rotate left by a quarter turn", "rotate 90° anticlockwise"],
  },
];

const FILTERS: readonly (readonly [FilterMaker, number])[] = [
  [
    amountFilter("brightness", {
      more: [
        "make it {adv} brighter",
        "brighten the photo {adv}",
        "increase the brightness by {n}",
        "can you make this picture {adv} lighter?",
        "more light {adv}",
        "raise the brightness {n}",
      ],
      less: [
        "make it {adv} darker",
        "darken the photo {adv}",
        "decrease the brightness by {n}",
        "could you make this image {adv} darker?",
        "less light {adv}",
        "lower the brightness {n}",
      ],
    }),
    2,
  ],
  [
    amountFilter("contrast", {
      more: [
        "add {adv} more contrast",
        "increase the contrast by {n}",
        "make it {adv} punchier",
        "boost contrast {adv}",
        "I'd like {adv} more contrast in this",
      ],
      less: ["reduce the contrast {adv}", "decrease the contrast by {n}", "make it {adv} flatter", "soften the contrast {adv}", "less contrast {adv}"],
    }),
    2,
  ],
  [
    amountFilter("saturation", {
      more: [
        "make the colours {adv} more vivid",
        "increase the saturation by {n}",
        "saturate it {adv}",
        "more colour {adv}",
        "can you make the colors pop {adv}?",
      ],
      less: ["make the colours {adv} more muted", "decrease the saturation by {n}", "desaturate it {adv}", "tone down the colours {adv}", "less colour {adv}"],
    }),
    2,
  ],
  [
    ({ rng }) => {
      const deg = rng.pick([90, 180, 270] as const);
      return {
        op: "hue",
        request: { op: "hue", degrees: deg },
        params: { degrees: deg },
        instruction: [`shift the hue by ${deg} degrees`, `rotate the hue ${deg}°`, `change the hues by ${deg} degrees`, `hue shift ${deg}`],
        expressive: `shift the hue by ${deg} degrees`,
      };
    },
    1,
  ],
  [
    () => ({
      op: "grayscale",
      request: { op: "grayscale" },
      params: {},
      expressive: "convert the image to grayscale",
      instruction: [
        "make it black and white",
        "convert to grayscale",
        "remove all colour",
        "turn this into a b&w photo",
        "make it greyscale",
        "drain the colour out of it",
      ],
    }),
    1,
  ],
  [
    () => ({
      op: "sepia",
      request: { op: "sepia" },
      params: {},
      expressive: "apply a sepia tone",
      instruction: ["make it sepia", "give it an old-timey look", "apply a sepia filter", "make it look like an old brown photograph", "sepia tone"],
    }),
    1,
  ],
  [
    () => ({
      op: "invert",
      request: { op: "invert" },
      params: {},
      expressive: "invert the colours",
      instruction: ["invert the colours", "make it a negative", "invert it", "turn the photo into its negative", "swap every colour for its opposite"],
    }),
    1,
  ],
  [
    ({ rng, res }) => {
      const strong = rng.chance(0.5);
      const sigma = ((strong ? 2.5 : 1.2) * res) / 128;
      return {
        op: "blur",
        request: { op: "blur", strong },
        params: { sigma, strength: strong ? "strong" : "light" },
        instruction: strong
          ? ["blur it a lot", "make it very blurry", "apply a strong blur", "heavily blur the image", "defocus it strongly"]
          : ["blur it a little", "soften the image slightly", "apply a light blur", "make it a bit blurry", "add a gentle blur"],
        expressive: `apply a ${strong ? "strong" : "light"} blur`,
      };
    },
    1,
  ],
  [
    ({ res }) => {
      const sigma = (1.5 * res) / 128;
      return {
        op: "sharpen",
        request: { op: "sharpen" },
        params: { sigma, amount: 1.5 },
        instruction: ["sharpen it", "make it crisper", "sharpen the image", "add some sharpness", "make the details sharper"],
        expressive: "sharpen the image",
      };
    },
    1,
  ],
  [
    () => ({
      op: "vignette",
      request: { op: "vignette" },
      params: { strength: 0.7 },
      expressive: "add a dark vignette",
      instruction: ["add a vignette", "darken the corners", "give it a vignette effect", "make the edges darker", "vignette it"],
    }),
    1,
  ],
  [
    ({ rng }) => {
      const color = rng.pick(TINTS);
      return {
        op: "tint",
        request: { op: "tint", color },
        params: { color, strength: 0.3 },
        instruction: [`add a ${color} tint`, `tint it ${color}`, `give the photo a ${color} hue`, `make everything a bit more ${color}`, `wash it in ${color}`],
        expressive: `add a ${color} tint`,
      };
    },
    1,
  ],
  [
    ({ rng }) => {
      const g = rng.pick(GEOMETRIC);
      return { op: g.op, request: { op: g.op }, params: {}, instruction: g.instruction, expressive: g.expressive };
    },
    2,
  ],
];

export type PhotoRequest = Extract<
  EditRequest,
  { op: AmountOp | "hue" | "grayscale" | "sepia" | "invert" | "sharpen" | "vignette" | "blur" | "tint" | f.Geometric }
>;

/** The filter a given photo edit asks for, as the generator applies it at resolution `res`. */
export function applyPhotoRequest(img: RgbImage, r: PhotoRequest, res: number): RgbImage {
  switch (r.op) {
    case "brightness":
    case "contrast":
    case "saturation": {
      const amount = (r.increase ? r.percent : -r.percent) / 100;
      return r.op === "brightness" ? f.brightness(img, amount) : r.op === "contrast" ? f.contrast(img, amount) : f.saturation(img, amount);
    }
    case "hue":
      return f.hueShift(img, r.degrees);
    case "grayscale":
      return f.grayscale(img);
    case "sepia":
      return f.sepia(img);
    case "invert":
      return f.invert(img);
    case "sharpen":
      return f.sharpen(img, (1.5 * res) / 128, 1.5);
    case "vignette":
      return f.vignette(img, 0.7);
    case "blur":
      return f.gaussianBlur(img, ((r.strong ? 2.5 : 1.2) * res) / 128);
    case "tint":
      return f.tint(img, COLORS[r.color], 0.3);
    default:
      return f.geometric(img, r.op);
  }
}

export async function photoshopEdit(ctx: EditContext): Promise<GeneratedEdit> {
  const { image, ref } = await ctx.photos.crop(ctx.rng, ctx.split, ctx.res);
  const filter = ctx.rng.weighted(FILTERS)(ctx);
  return {
    kind: "photoshop",
    op: filter.op,
    request: filter.request,
    params: filter.params,
    instruction: say(ctx.rng, filter.instruction),
    expressive: filter.expressive,
    ambiguity: null,
    source: { type: "photo", crop: ref },
    input: image,
    target: applyPhotoRequest(image, filter.request, ctx.res),
    mask: fullMask(ctx.res),
  };
}
