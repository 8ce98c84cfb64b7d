import { THE_PHOTO } from "./photoGrammar.js";
import type { Cast, EditRequest, GlobalFamily } from "./request.js";
import { dress, request } from "./surface.js";
import type { Wording } from "./wording.js";

/**
 * Sentences for the global photo corrections (the paper's MA5k): the person names the defect, asks for
 * its fix, or both; a vague family ("fix the lighting") leaves it to the image which fix is meant.
 */

/** Problem statements and fixes per defect; a request is a problem, a fix, or "problem, fix". */
const DEFECTS: Record<"fix-underexposure" | "fix-overexposure" | "boost-dull" | "day-to-night", { problems: string[]; fixes: string[] }> = {
  "fix-underexposure": {
    problems: [
      "it's too dark",
      "the photo is underexposed",
      "I can barely see anything",
      "it came out really dark",
      "way too dark",
      "it's so dim",
      "this shot is underexposed",
      "everything is lost in the shadows",
      "the camera didn't get enough light",
      "it's murky and dark",
      "you can hardly make anything out",
    ],
    fixes: [
      "fix the underexposure",
      "brighten this dark photo",
      "correct the underexposure",
      "rescue this dark shot",
      "lighten this dark photo",
      "bring it up to a normal exposure",
      "fix how dark it is",
      "make it properly exposed",
      "recover the dark exposure",
    ],
  },
  "fix-overexposure": {
    problems: [
      "it's too bright",
      "the photo is overexposed",
      "it's blown out",
      "it looks washed out from too much light",
      "the highlights are blown",
      "way too much light",
      "it's glaringly bright",
      "everything is bleached by the sun",
      "this shot is overexposed",
    ],
    fixes: [
      "fix the overexposure",
      "darken this blown-out photo",
      "tone down the overexposure",
      "correct the overexposure",
      "bring the exposure down to normal",
      "recover the blown highlights",
      "fix how bright it is",
      "rescue this overexposed shot",
    ],
  },
  "boost-dull": {
    problems: [
      "it's dull",
      "the photo looks flat",
      "it looks lifeless",
      "it's so grey and washed out",
      "it's boring and flat",
      "the picture has no pop",
      "it looks drab",
      "the colours and contrast are weak",
    ],
    fixes: [
      "make it pop",
      "give it some life",
      "liven it up",
      "boost the contrast and saturation",
      "make it less dull",
      "add some punch",
      "make it more vibrant and contrasty",
      "perk it up",
      "put some life back into it",
    ],
  },
  "day-to-night": {
    problems: [],
    fixes: [
      "turn day into night",
      "make it night time",
      "make it look like it was taken at night",
      "change the scene to night",
      "make it dark like midnight",
      "day to night",
      "make it a night scene",
      "turn the daytime into nighttime",
      "make it look like evening after dark",
      "as if it were shot at night",
      "switch it to night",
      "give it a moonlit night look",
      "make it look like the middle of the night",
    ],
  },
};

const CAST_WORDS: Record<Cast, { looks: string[]; names: string[] }> = {
  orange: { looks: ["too warm", "too orange", "too yellow-orange", "orangey", "amber", "too yellow"], names: ["orange", "warm", "amber", "yellow-orange"] },
  blue: { looks: ["too cold", "too blue", "bluish", "too cool", "icy blue"], names: ["blue", "cold", "cool", "bluish"] },
  green: { looks: ["sickly green", "too green", "greenish", "green-tinged"], names: ["green", "greenish"] },
  magenta: { looks: ["too pink", "too magenta", "purple-pink", "pinkish purple"], names: ["magenta", "pink", "purple-pink"] },
};

function castRequest(w: Wording, cast: Cast): string {
  const { looks, names } = CAST_WORDS[cast];
  const look = w.lazy(() => w.pick(looks));
  const name = w.lazy(() => w.pick(names));
  const tint = w.lazy(() => w.pick(["cast", "tint", "tinge", "colour cast", "color cast", "hue"]));
  return w.frame<() => string>([
    [
      "remove the c cast",
      () => request(w, `${w.pick(["remove", "get rid of", "take out", "neutralise", "correct", "fix", "kill", "clean up"])} the ${name()} ${tint()}`),
    ],
    [
      "it looks too c, fix it",
      () => dress(w, `it looks ${look()}, ${w.pick(["fix it", "correct it", "sort it out", "can you fix that?", "make it neutral"])}`),
    ],
    ["everything looks c", () => dress(w, `everything looks ${look()}`)],
    ["there is a c tint, fix it", () => dress(w, `there's a ${name()} ${tint()}, ${w.pick(["fix it", "remove it", "get rid of it", "please remove it"])}`)],
    ["the white balance is off, too c", () => dress(w, `the white balance is off, it's ${look()}`)],
    ["the photo has a c cast", () => dress(w, `${w.pick(THE_PHOTO)} has a ${name()} ${tint()}`)],
  ])();
}

const FAMILIES: Record<GlobalFamily, string[]> = {
  "fix-lighting": [
    "fix the lighting",
    "~the exposure is off, fix it",
    "correct the exposure",
    "make the lighting look right",
    "fix the brightness",
    "sort out the exposure",
    "~the lighting is wrong",
    "balance the exposure",
    "get the exposure right",
    "~the light looks off",
    "normalise the exposure",
    "fix the exposure problem",
  ],
  "fix-colour": [
    "fix the colours",
    "~the colours look wrong",
    "correct the white balance",
    "make the colours look natural",
    "fix the colour balance",
    "colour correct it",
    "~the colors are off",
    "balance the colours",
    "make the colours true to life",
    "~the white balance looks wrong",
    "neutralise the colours",
  ],
  enhance: [
    "make it look better",
    "enhance this photo",
    "fix this photo",
    "improve the picture",
    "make it look professional",
    "touch it up",
    "auto-fix it",
    "make it nicer",
    "clean it up",
    "make it look good",
    "~can you improve this",
    "polish it up",
    "make this photo better",
    "do whatever it needs",
  ],
};

type GlobalRequest = Extract<EditRequest, { op: keyof typeof DEFECTS | "remove-cast" }>;

function isGlobal(r: EditRequest): r is GlobalRequest {
  return r.op === "remove-cast" || r.op in DEFECTS;
}

/** A global correction's request in words, or null when `r` is not one. */
export function globalEditSentence(w: Wording, r: EditRequest): string | null {
  if (!isGlobal(r)) return null;
  if (r.family) return request(w, w.pick(FAMILIES[r.family]));
  if (r.op === "remove-cast") return castRequest(w, r.cast);
  const { problems, fixes } = DEFECTS[r.op];
  const shape = problems.length === 0 ? "fix" : w.any(["problem", "fix", "both"] as const);
  if (shape === "problem") return dress(w, w.pick(problems));
  if (shape === "fix") return request(w, w.pick(fixes));
  return dress(w, `${w.pick(problems)}, ${w.pick(fixes)}`);
}
