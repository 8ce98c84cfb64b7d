import { COLOR_NAMES } from "../scene/objects.js";
import { wordnet } from "./lexicon.js";
import { referTo } from "./localGrammar.js";
import type { UnsupportedRequest } from "./request.js";
import { dress, request } from "./surface.js";
import type { Wording } from "./wording.js";

/**
 * Requests outside mgie's repertoire, for the model to learn to refuse: edits of things that are not
 * its shapes (WordNet's common nouns of objects, people, animals, plants, food and places), actions,
 * styles and operations it has no way to do. Nouns and verbs are held out by split like other words.
 */

const STYLES = [
  "a painting",
  "an oil painting",
  "a watercolour",
  "a cartoon",
  "a pencil sketch",
  "a comic book",
  "anime",
  "pixel art",
  "a mosaic",
  "a 3d render",
  "a van gogh",
  "a charcoal drawing",
  "a pop art poster",
  "a stained glass window",
  "a lego model",
  "a claymation still",
  "an etching",
  "a cross-stitch",
  "a blueprint",
  "a neon sign",
];

const LOOKS = [
  "futuristic",
  "spooky",
  "cyberpunk",
  "like a dream",
  "like a movie poster",
  "like a postcard",
  "festive",
  "like it's underwater",
  "like it's on fire",
  "like a video game",
  "like it's made of glass",
  "more romantic",
  "like a magazine cover",
  "like it's raining",
];

const OPERATIONS = [
  "crop it to a square",
  "crop out the left side",
  "resize it to 800 pixels wide",
  "upscale it to 4k",
  "add text that says hello",
  "put a watermark in the corner",
  "add a white border",
  "remove the background",
  "straighten the horizon",
  "remove red eye",
  "add lens flare",
  "make it a gif",
  "animate it",
  "make it 3d",
  "add a frame around it",
  "swap the faces",
  "remove the watermark",
  "add a caption",
  "make it transparent",
  "change the aspect ratio to 16:9",
  "stitch it into a panorama",
  "restore this old torn photo",
  "colourise this photo",
  "translate the sign",
  "count the people",
  "tell me what's in the picture",
  "write a poem about this",
  "zoom in on the left",
  "add a shadow under everything",
  "make the background transparent",
];

const SEASONS = ["summer", "winter", "autumn", "spring", "christmas", "halloween"];
const WEATHER = ["snow", "rain", "fog", "clouds", "a rainbow", "sunshine", "a thunderstorm", "falling leaves", "stars in the sky", "a sunset"];

/** Scene-specific requests mgie cannot do to its shapes. */
const SHAPE_ACTIONS = ["spin", "dance", "glow", "cast a shadow", "look 3d", "look transparent", "sparkle", "bounce", "look shiny", "smile"];

function noun(w: Wording): string {
  const { nouns } = wordnet().outOfScope;
  return w.pick(nouns[w.any(Object.keys(nouns))]);
}

function person(w: Wording): string {
  return w.pick([...wordnet().outOfScope.nouns.person, ...wordnet().outOfScope.nouns.animal]);
}

function verb(w: Wording): string {
  const { verbs } = wordnet().outOfScope;
  return w.pick(verbs[w.any(Object.keys(verbs))]);
}

/** A request mgie cannot do; `r.scene` (when the input is a scene) lets some name its shapes. */
export function unsupportedSentence(w: Wording, r: Extract<UnsupportedRequest, { reason: "repertoire" }>): string {
  const c = w.any(COLOR_NAMES);
  const scene = r.scene;
  return w.frame<() => string>([
    ["make the NOUN C", () => request(w, `make the ${noun(w)} ${c}`)],
    [
      "remove the NOUN",
      () =>
        request(
          w,
          `${w.pick(["remove", "delete", "get rid of", "erase"])} the ${noun(w)}${w.any(["", " on the left", " on the right", " in the middle", " in the background"])}`,
        ),
    ],
    [
      "add a NOUN",
      () =>
        request(w, `${w.pick(["add", "put", "draw", "insert"])} a ${noun(w)}${w.any(["", " in the corner", " on the left", " at the top", " in the middle"])}`),
    ],
    ["replace the NOUN with a NOUN", () => request(w, `replace the ${noun(w)} with a ${noun(w)}`)],
    ["make the PERSON VERB", () => request(w, `make the ${person(w)} ${verb(w)}`)],
    ["make it look like STYLE", () => request(w, `make ${w.pick(["it", "the photo", "this"])} look like ${w.pick(STYLES)}`)],
    ["turn it into STYLE", () => request(w, `turn ${w.pick(["it", "the photo", "this"])} into ${w.pick(STYLES)}`)],
    ["make it look LOOK", () => request(w, `make it look ${w.pick(LOOKS)}`)],
    ["OPERATION", () => request(w, w.pick(OPERATIONS))],
    ["add WEATHER", () => request(w, `add ${w.pick(WEATHER)}${w.any(["", " to the sky", " everywhere", " on the ground"])}`)],
    ["make it SEASON", () => request(w, `make it look like ${w.pick(SEASONS)}`)],
    ["give the PERSON a NOUN", () => request(w, `give the ${person(w)} a ${noun(w)}`)],
    ["make the NOUN bigger", () => request(w, `make the ${noun(w)} ${w.pick(["bigger", "smaller", "disappear", "shinier", "older", "newer"])}`)],
    [
      "make SHAPE ACTION",
      () => (scene && scene.length > 0 ? request(w, `make ${referTo(w, w.any(scene), scene)} ${w.pick(SHAPE_ACTIONS)}`) : dress(w, `make everyone ${verb(w)}`)),
    ],
  ])();
}
