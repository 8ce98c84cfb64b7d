import type { Geometric } from "../ops/filters.js";
import type { ColorName } from "../scene/objects.js";
import { withSynonyms } from "./lexicon.js";
import type { AmountOp, EditRequest } from "./request.js";
import { degreesText, dress, percentText, request } from "./surface.js";
import type { Wording } from "./wording.js";

/** Sentences for the Photoshop-style edits of a whole photo (the paper's GIER). */

export const THE_PHOTO = [
  "it",
  "the photo",
  "the image",
  "the picture",
  "this photo",
  "this picture",
  "this image",
  "the shot",
  "this shot",
  "my photo",
  "the whole thing",
  "everything",
  "this",
  "the pic",
  "my picture",
  "the snap",
  "this one",
  "the frame",
];

const colourWord = (w: Wording) => w.any(["colour", "color"]);

/**
 * Fills a sentence template's slots after the template is chosen, so that a frame belongs to one
 * split whatever its fillers: {it} the photo, {colour} and {grey} spellings, angles, "please", and
 * {a|b|c}, one of the alternatives.
 */
function fill(w: Wording, template: string, it: () => string): string {
  const slots: Record<string, () => string> = {
    it,
    colour: () => colourWord(w),
    grey: () => w.any(["grayscale", "greyscale", "gray scale", "grey scale"]),
    gray: () => w.any(["grey", "gray"]),
    please: () => w.any(["please", "pls", ""]),
    d90: () => degreesText(w, 90),
    d180: () => degreesText(w, 180),
    d270: () => degreesText(w, 270),
    rotate: () => w.pick(withSynonyms(["rotate", "turn"], "rotate")),
    ccw: () => w.any(["counterclockwise", "anticlockwise", "counter-clockwise", "anti-clockwise", "ccw"]),
    sharpen: () => w.pick(withSynonyms(["sharpen"], "sharpen")),
    sharp: () => w.pick(withSynonyms(["sharper"], "sharp")),
  };
  return template.replace(/\{([^{}]+)\}/g, (_, name: string) => (name.includes("|") ? w.pick(name.split("|")) : slots[name]()));
}

/** Degree words for 20 % and 60 % (no degree word is 40 %), before a comparative or after a verb. */
const LOW = [
  "a little",
  "slightly",
  "a bit",
  "a touch",
  "a tad",
  "somewhat",
  "a little bit",
  "marginally",
  "just a bit",
  "ever so slightly",
  "mildly",
  "a smidge",
];
const HIGH_COMPARATIVE = ["a lot", "much", "way", "far", "considerably", "significantly", "dramatically", "a great deal", "substantially", "loads", "heaps"];
const HIGH_VERB = [
  "a lot",
  "considerably",
  "significantly",
  "dramatically",
  "a great deal",
  "substantially",
  "heavily",
  "massively",
  "strongly",
  "loads",
  "big time",
];

function degree(w: Wording, percent: number, position: "comparative" | "verb"): string {
  if (percent === 40) return "";
  return w.pick(percent === 20 ? LOW : position === "comparative" ? HIGH_COMPARATIVE : HIGH_VERB);
}

interface AmountWords {
  /** Comparatives: "brighter". */
  more: string[];
  less: string[];
  /** Verbs that take the photo as object: "brighten it". */
  moreVerbs: string[];
  lessVerbs: string[];
  /** What is turned up or down: "the brightness". */
  quantity: string[];
}

const AMOUNT_WORDS: Record<AmountOp, AmountWords> = {
  brightness: {
    more: ["brighter", "lighter", "less dark", "more luminous", "more bright"],
    less: ["darker", "dimmer", "less bright", "gloomier", "more dark", "moodier"],
    moreVerbs: withSynonyms(["brighten", "brighten up", "light up"], "brighten"),
    lessVerbs: withSynonyms(["darken", "tone down", "dim down"], "darken"),
    quantity: ["the brightness", "the light", "the lightness", "the brightness level", "the luminosity"],
  },
  contrast: {
    more: ["more contrasty", "punchier", "higher contrast", "more contrasted", "crunchier"],
    less: ["flatter", "less contrasty", "lower contrast", "softer in contrast", "less punchy"],
    moreVerbs: ["add contrast to", "punch up", "add punch to"],
    lessVerbs: ["flatten", "soften the contrast of", "take contrast out of"],
    quantity: ["the contrast", "the contrast level", "the tonal contrast"],
  },
  saturation: {
    more: ["more vivid", "more colourful", "more saturated", "richer in colour", "more vibrant", "more colorful"],
    less: ["more muted", "less colourful", "less saturated", "more subdued", "less vivid", "less colorful"],
    moreVerbs: ["saturate", "intensify the colours of", "enrich the colours of", "boost the colours of"],
    lessVerbs: ["desaturate", "mute the colours of", "subdue the colours of", "tone down the colours of"],
    quantity: ["the saturation", "the colour saturation", "the colours", "the vibrance", "the colour intensity"],
  },
};

const TURN_UP = ["increase", "raise", "boost", "bump up", "turn up", "crank up", "push up", "up", "pump up", "amp up", "lift", "add to"];
const TURN_DOWN = ["decrease", "lower", "reduce", "turn down", "bring down", "drop", "cut", "lessen", "pull down", "dial back", "take down"];

function amountRequest(w: Wording, r: Extract<EditRequest, { op: AmountOp }>): string {
  const words = AMOUNT_WORDS[r.op];
  const it = w.lazy(() => w.pick(THE_PHOTO));
  const comparative = w.lazy(() => w.pick(r.increase ? words.more : words.less));
  const verb = w.lazy(() => w.pick(r.increase ? words.moreVerbs : words.lessVerbs));
  const quantity = w.lazy(() => w.pick(words.quantity));
  const turn = w.lazy(() => w.pick(r.increase ? TURN_UP : TURN_DOWN));
  const dc = w.lazy(() => degree(w, r.percent, "comparative"));
  const dv = w.lazy(() => degree(w, r.percent, "verb"));
  const explicit = r.percent === 40 ? w.chance(0.35) : w.chance(0.3);
  if (explicit) {
    const n = percentText(w, r.percent);
    const sign = r.increase ? "+" : "-";
    return w.frame<() => string>([
      ["turn the quantity by n", () => request(w, `${turn()} ${quantity()} by ${n}`)],
      ["make it n comparative", () => request(w, `make ${it()} ${n} ${comparative()}`)],
      ["verb it by n", () => request(w, `${verb()} ${it()} by ${n}`)],
      ["quantity sign n", () => dress(w, `${quantity().replace(/^the /, "")} ${sign}${n.replace(/ /g, "")}`)],
      ["turn quantity n", () => request(w, `${turn()} ${quantity()} ${n}`)],
      ["n comparative please", () => dress(w, `${n} ${comparative()} please`)],
      ["I want it n comparative", () => dress(w, `I want ${it()} ${n} ${comparative()}`)],
    ])();
  }
  return w.frame<() => string>([
    ["make it deg comparative", () => request(w, `make ${it()} ${dc()} ${comparative()}`)],
    ["verb it deg", () => request(w, `${verb()} ${it()} ${dv()}`)],
    ["turn the quantity deg", () => request(w, `${turn()} ${quantity()} ${dv()}`)],
    ["deg comparative please", () => dress(w, `${dc()} ${comparative()}${w.any(["", " please", ", please"])}`)],
    ["I want it deg comparative", () => dress(w, `I want ${it()} ${dc()} ${comparative()}`)],
    ["it should be deg comparative", () => dress(w, `${it()} should be ${dc()} ${comparative()}`)],
    ["it needs to be deg comparative", () => dress(w, `${it()} needs to be ${dc()} ${comparative()}`)],
    ["can it be deg comparative", () => dress(w, `can ${it()} be ${dc()} ${comparative()}?`)],
    ["I'd prefer it deg comparative", () => dress(w, `I'd prefer ${it()} ${dc()} ${comparative()}`)],
    ["give me a deg comparative version", () => dress(w, `give me a ${dc()} ${comparative()} version`)],
    ["could do with being deg comparative", () => dress(w, `${it()} could do with being ${dc()} ${comparative()}`)],
    ["get it deg comparative", () => request(w, `get ${it()} ${dc()} ${comparative()}`)],
  ])();
}

const HUE_TURNS: Record<number, string[]> = {
  90: ["a quarter turn", "a quarter of the way round the colour wheel", "a quarter turn of the colour wheel"],
  180: ["half a turn", "half way round the colour wheel", "to the opposite side of the colour wheel"],
  270: ["three quarters of a turn", "three quarters of the way round the colour wheel"],
};

function hueRequest(w: Wording, degrees: number): string {
  const angle = w.chance(0.7) ? degreesText(w, degrees) : w.pick(HUE_TURNS[degrees]);
  const hue = w.lazy(() => w.pick(["the hue", "the hues", "all the hues", "the colours", "the colour wheel", "the hue angle", "the tint of every colour"]));
  return w.frame<() => string>([
    [
      "shift the hue by",
      () => request(w, `${w.pick(["shift", "rotate", "change", "move", "spin", "cycle", "turn", "offset", "swing", "push"])} ${hue()} by ${angle}`),
    ],
    ["hue shift n", () => dress(w, `hue shift ${angle}`)],
    ["shift the hue n", () => request(w, `${w.pick(["shift", "rotate", "spin", "cycle", "turn"])} ${hue()} ${angle}`)],
    ["hue plus n", () => dress(w, `hue +${angle.replace(/ /g, "")}`)],
    ["a hue rotation of n", () => dress(w, `${w.pick(["a hue rotation of", "a hue shift of", "a hue change of"])} ${angle}${w.any(["", " please"])}`)],
  ])();
}

const PLAIN: Record<"grayscale" | "sepia" | "invert" | "sharpen" | "vignette", string[]> = {
  grayscale: [
    `make {it} black and white`,
    `convert {it} to {grey}`,
    `give me a monochrome version`,
    `turn {it} {gray}`,
    `remove all the {colour}`,
    `make {it} {grey}`,
    `~b&w {please}`,
    `~black & white`,
    `desaturate {it} completely`,
    `strip all the {colour} out of {it}`,
    `make {it} monochrome`,
    `go monochrome`,
    `I want {it} in black and white`,
    `~{colour}less please`,
    `convert to b/w`,
    `make {it} look like an old black and white photo`,
    `~no {colour} at all`,
    `take out every bit of {colour}`,
    `render {it} in shades of {gray}`,
    `drop all the {colour}`,
  ],
  sepia: [
    `make {it} sepia`,
    `sepia tone {it}`,
    `give {it} a sepia {look|tone|filter|finish|effect}`,
    `make {it} look like an old brown photograph`,
    `apply a sepia filter`,
    `~antique brown look`,
    `make {it} brownish like a very old photo`,
    `give {it} that old-timey brown tone`,
    `~sepia {please}`,
    `make {it} look like a faded brown print from a century ago`,
    `turn {it} sepia`,
    `~vintage sepia effect`,
    `give {it} a warm brown antique tone`,
    `~can it look like a sepia photograph?`,
  ],
  invert: [
    `invert the {colour}s`,
    `make {it} a negative`,
    `invert {it}`,
    `show me the negative of {it}`,
    `turn {it} into a negative`,
    `reverse the {colour}s`,
    `~negative image {please}`,
    `swap every {colour} for its opposite`,
    `show me the photographic negative`,
    `~opposite {colour}s`,
    `make the {colour}s inverted`,
    `flip the {colour}s to their complements`,
    `~{it} as a film negative`,
    `~colour inversion`,
  ],
  sharpen: [
    `sharpen {it}`,
    `make {it} {sharper|crisper|clearer|more defined|more crisp|less soft}`,
    `crisp {it} up`,
    `add {sharpness|clarity|some definition|crispness|detail}`,
    `bring out the details`,
    `enhance the details`,
    `make the edges sharper`,
    `increase the sharpness`,
    `~it's a bit soft, sharpen it up`,
    `{sharpen} the details`,
    `make {it} look {sharp}`,
    `deblur {it}`,
    `give {it} more bite`,
    `apply an unsharp mask`,
  ],
  vignette: [
    `add a vignette`,
    `vignette {it}`,
    `darken the {corners|edges|borders|outer edges}`,
    `give {it} dark corners`,
    `fade the edges to black`,
    `put a shadow around the edges`,
    `make the edges darker`,
    `add a dark fade around the border`,
    `burn the corners`,
    `give {it} a vignette effect`,
    `add some vignetting`,
    `~dark vignette {please}`,
    `shade the corners`,
    `draw the eye to the middle by darkening the edges`,
  ],
};

function blurRequest(w: Wording, strong: boolean, it: () => string): string {
  const blurry = w.lazy(() => w.pick(withSynonyms(["blurry", "out of focus", "soft"], "blurry")));
  const verb = w.lazy(() => w.pick(withSynonyms(["blur", "soften", "defocus", "smudge", "smear"], "blur")));
  if (strong) {
    const d = w.lazy(() => w.pick(["a lot", "heavily", "strongly", "really hard", "massively", "very much", "loads", "big time", "intensely"]));
    return w.frame<() => string>([
      ["verb it strongly", () => request(w, `${verb()} ${it()} ${d()}`)],
      ["make it very blurry", () => request(w, `make ${it()} ${w.pick(["very", "really", "extremely", "super", "totally", "completely"])} ${blurry()}`)],
      ["apply a strong blur", () => request(w, `apply a ${w.pick(["strong", "heavy", "big", "massive", "intense", "serious"])} blur`)],
      ["strongly verb it", () => request(w, `${w.pick(["heavily", "strongly", "seriously"])} ${verb()} ${it()}`)],
      ["lots of blur", () => dress(w, `${w.pick(["lots of", "tons of", "a lot of", "loads of"])} blur`)],
    ])();
  }
  const d = w.lazy(() => w.pick(["", "a little", "slightly", "a bit", "gently", "softly", "a touch", "lightly", "subtly"]));
  return w.frame<() => string>([
    ["verb it lightly", () => request(w, `${verb()} ${it()} ${d()}`)],
    ["make it a bit blurry", () => request(w, `make ${it()} ${w.pick(["a bit", "slightly", "a little", "somewhat", "a tad"])} ${blurry()}`)],
    ["apply a light blur", () => request(w, `apply a ${w.pick(["light", "gentle", "subtle", "soft", "small", "slight"])} blur`)],
    ["add a little blur", () => request(w, `add ${w.pick(["a little", "a bit of", "some", "a touch of", "a hint of"])} blur`)],
  ])();
}

const TINT_WORDS: Record<ColorName, string[]> = {
  red: ["red", "reddish"],
  orange: ["orange", "orangey"],
  yellow: ["yellow", "yellowish"],
  green: ["green", "greenish"],
  blue: ["blue", "bluish"],
  purple: ["purple", "purplish"],
  pink: ["pink", "pinkish"],
  white: ["white"],
};

function tintRequest(w: Wording, color: ColorName, it: () => string): string {
  const ish = w.any(TINT_WORDS[color]);
  const kind = w.lazy(() => w.pick(["tint", "hue", "tone", "wash", "tinge", "filter", "glow", "cast"]));
  return w.frame<() => string>([
    ["add a c tint", () => request(w, `add a ${color} ${kind()}`)],
    ["tint it c", () => request(w, `${w.pick(withSynonyms(["tint"], "tint"))} ${it()} ${color}`)],
    ["give it a c tint", () => request(w, `give ${it()} a ${color} ${kind()}`)],
    ["make everything c-ish", () => request(w, `make ${w.pick(["everything", it()])} ${w.any(["a bit", "slightly", "a little"])} ${ish}`)],
    ["wash it in c", () => request(w, `wash ${it()} in ${color}`)],
    ["put a c filter on it", () => request(w, `put a ${color} ${w.pick(["filter", "tint", "overlay"])} on ${it()}`)],
    ["c tint please", () => dress(w, `${color} ${kind()} please`)],
    ["bathe it in c light", () => request(w, `bathe ${it()} in ${color} light`)],
  ])();
}

const GEOMETRIC_SENTENCES: Record<Geometric, string[]> = {
  "flip-horizontal": [
    `flip {it} horizontally`,
    `mirror {it}`,
    `mirror {it} left to right`,
    `flip {it} left to right`,
    `flip {it} side to side`,
    `reflect {it} horizontally`,
    `make a mirror image of {it}`,
    `swap the left and right sides`,
    `flip {it} along the vertical axis`,
    `~horizontal flip`,
    `~left-right flip`,
    `~mirror image {please}`,
    `reverse {it} left to right`,
    `flip {it} sideways`,
    `mirror {it} horizontally`,
    `make the left side the right side`,
  ],
  "flip-vertical": [
    `flip {it} vertically`,
    `flip {it} upside down`,
    `flip {it} top to bottom`,
    `mirror {it} vertically`,
    `reflect {it} top to bottom`,
    `swap the top and the bottom`,
    `~vertical flip`,
    `flip {it} along the horizontal axis`,
    `mirror {it} top to bottom`,
    `flip {it} over vertically`,
    `reflect {it} vertically`,
    `~upside-down mirror image {please}`,
    `make the top the bottom by flipping {it}`,
  ],
  "rotate-90": [
    `rotate {it} clockwise`,
    `{rotate} {it} {d90} clockwise`,
    `{rotate} {it} to the right`,
    `rotate right`,
    `~a quarter turn clockwise`,
    `{rotate} {it} {d90} cw`,
    `{rotate} {it} a quarter turn to the right`,
    `{rotate} {it} clockwise by {d90}`,
    `give {it} a quarter turn clockwise`,
    `rotate {d90} to the right`,
  ],
  "rotate-180": [
    `rotate {it} {d180}`,
    `{rotate} {it} around {d180}`,
    `{rotate} {it} half a turn`,
    `spin {it} round half a turn`,
    `rotate by {d180}`,
    `{rotate} {it} half way round`,
    `give {it} a half turn`,
    `~half rotation {please}`,
    `{rotate} {it} a full {d180}`,
  ],
  "rotate-270": [
    `rotate {it} {ccw}`,
    `{rotate} {it} {d90} {ccw}`,
    `{rotate} {it} to the left`,
    `rotate left`,
    `~a quarter turn {ccw}`,
    `{rotate} {it} a quarter turn to the left`,
    `{rotate} {it} {d270} clockwise`,
    `give {it} a quarter turn {ccw}`,
    `rotate {d90} to the left`,
  ],
};

/** A photo edit's request in words, or null when `r` is not a photo edit. */
export function photoEditSentence(w: Wording, r: EditRequest): string | null {
  const it = w.lazy(() => w.pick(THE_PHOTO));
  switch (r.op) {
    case "brightness":
    case "contrast":
    case "saturation":
      return amountRequest(w, r);
    case "hue":
      return hueRequest(w, r.degrees);
    case "grayscale":
    case "sepia":
    case "invert":
    case "sharpen":
    case "vignette": {
      return request(w, fill(w, w.pick(PLAIN[r.op]), it));
    }
    case "blur":
      return blurRequest(w, r.strong, it);
    case "tint":
      return tintRequest(w, r.color, it);
    case "flip-horizontal":
    case "flip-vertical":
    case "rotate-90":
    case "rotate-180":
    case "rotate-270":
      return request(w, fill(w, w.pick(GEOMETRIC_SENTENCES[r.op]), it));
    default:
      return null;
  }
}
