import type { ColorName, Position, Shape } from "../scene/objects.js";
import { withSynonyms } from "./lexicon.js";
import type { Direction, LocalRequest, ObjectLooks, UnsupportedRequest } from "./request.js";
import { dress, request } from "./surface.js";
import type { Wording } from "./wording.js";

/** Sentences for local edits of one object of a scene of shapes (the paper's MagicBrush). */

const SHAPE_WORDS: Record<Shape, string[]> = {
  circle: ["circle", "round one", "disc", "dot", "round shape", "ball", "circle shape"],
  square: ["square", "box", "square shape", "block", "four-sided shape"],
  triangle: ["triangle", "triangle shape", "three-sided shape", "pyramid shape"],
  star: ["star", "star shape", "five-pointed star", "starry shape"],
  hexagon: ["hexagon", "hex", "six-sided shape", "hexagonal shape", "honeycomb shape"],
};
const SIZE_WORDS = {
  small: withSynonyms(["small", "little", "tiny", "smaller", "wee", "mini"], "small"),
  large: withSynonyms(["large", "big", "huge", "bigger", "giant", "larger"], "big"),
};

function shapeWord(w: Wording, shape: Shape): string {
  return w.pick(SHAPE_WORDS[shape]);
}

/**
 * How a person names an object of the scene: by colour and shape (unique in every scene), with or
 * without its size, or more briefly when its colour or its shape alone is unique.
 */
export function referTo(w: Wording, o: Pick<ObjectLooks, "color" | "shape"> & Partial<Pick<ObjectLooks, "size">>, scene: readonly ObjectLooks[]): string {
  const uniqueColour = scene.filter((p) => p.color === o.color).length === 1;
  const uniqueShape = scene.filter((p) => p.shape === o.shape).length === 1;
  const the = w.pick(["the", "that", "this"]);
  const size = () => (o.size && w.chance(0.3) ? `${w.pick(SIZE_WORDS[o.size])} ` : "");
  const forms: (() => string)[] = [() => `${the} ${size()}${o.color} ${shapeWord(w, o.shape)}`, () => `${the} ${shapeWord(w, o.shape)} that's ${o.color}`];
  if (uniqueColour) forms.push(() => `${the} ${o.color} ${w.pick(["one", "shape", "thing", "object"])}`);
  if (uniqueShape) forms.push(() => `${the} ${size()}${shapeWord(w, o.shape)}`);
  return w.any(forms)();
}

/** A new object: its size, colour and shape all said, since nothing in the scene names it. */
function newObject(w: Wording, o: ObjectLooks): string {
  const a = w.pick(["a", "one", "another"]);
  return `${a} ${w.pick(SIZE_WORDS[o.size])} ${o.color} ${shapeWord(w, o.shape)}`;
}

const PLACES: Record<Position, string[]> = {
  "top left": ["in the top left corner", "at the top left", "in the upper left", "top-left", "in the top-left corner", "up in the left corner"],
  top: ["at the top", "along the top", "at the top edge", "up top", "near the top"],
  "top right": ["in the top right corner", "at the top right", "in the upper right", "top-right", "in the top-right corner", "up in the right corner"],
  left: ["on the left", "on the left side", "at the left", "on the left-hand side", "by the left edge"],
  centre: ["in the middle", "in the centre", "in the center", "at the centre", "right in the middle", "dead centre"],
  right: ["on the right", "on the right side", "at the right", "on the right-hand side", "by the right edge"],
  "bottom left": ["in the bottom left corner", "at the bottom left", "in the lower left", "bottom-left", "down in the left corner"],
  bottom: ["at the bottom", "along the bottom", "at the bottom edge", "down at the bottom", "near the bottom"],
  "bottom right": ["in the bottom right corner", "at the bottom right", "in the lower right", "bottom-right", "down in the right corner"],
};

const DIRECTIONS: Record<Direction, string[]> = {
  left: ["to the left", "left", "leftwards", "over to the left", "a bit to the left", "towards the left"],
  right: ["to the right", "right", "rightwards", "over to the right", "a bit to the right", "towards the right"],
  up: ["up", "upwards", "higher", "towards the top", "up a bit", "further up"],
  down: ["down", "downwards", "lower", "towards the bottom", "down a bit", "further down"],
};

const COLOUR_VERBS = withSynonyms(["make", "change", "paint", "recolour", "turn", "colour", "recolor", "switch"], "colour");

function recolourSentence(w: Wording, ref: string, c: ColorName): string {
  return w.frame<() => string>([
    ["make REF c", () => request(w, `${w.pick(["make", "paint", "turn", "colour", "recolour", "color"])} ${ref} ${c}`)],
    ["change REF to c", () => request(w, `${w.pick(COLOUR_VERBS)} ${ref} to ${c}`)],
    ["I want REF to be c", () => dress(w, `I want ${ref} to be ${c}`)],
    ["REF should be c", () => dress(w, `${ref} should be ${c}`)],
    ["can REF be c instead", () => dress(w, `can ${ref} be ${c} instead?`)],
    ["change the colour of REF to c", () => request(w, `${w.pick(["change", "switch", "set"])} the ${w.any(["colour", "color"])} of ${ref} to ${c}`)],
    ["fill REF with c", () => request(w, `fill ${ref} with ${c}`)],
    ["REF in c please", () => dress(w, `${ref} in ${c} please`)],
    ["give REF a c colour", () => request(w, `give ${ref} a ${c} ${w.any(["colour", "color", "fill"])}`)],
  ])();
}

const REMOVE_VERBS = withSynonyms(["remove", "delete", "get rid of", "take out", "erase", "ditch", "drop", "lose", "cut out", "wipe out"], "remove");

function removeSentence(w: Wording, ref: string): string {
  return w.frame<() => string>([
    ["remove REF", () => request(w, `${w.pick(REMOVE_VERBS)} ${ref}`)],
    ["I don't want REF", () => dress(w, `I don't want ${ref}`)],
    ["REF has to go", () => dress(w, `${ref} ${w.pick(["has to go", "needs to go", "must go", "should go"])}`)],
    ["make REF disappear", () => request(w, `make ${ref} ${w.pick(["disappear", "vanish", "go away"])}`)],
    ["without REF please", () => dress(w, `without ${ref} please`)],
    ["remove REF from the picture", () => request(w, `${w.pick(REMOVE_VERBS)} ${ref} from ${w.pick(["the picture", "the image", "the scene", "the photo"])}`)],
  ])();
}

function addSentence(w: Wording, o: ObjectLooks, position: Position): string {
  const obj = newObject(w, o);
  const place = w.pick(PLACES[position]);
  return w.frame<() => string>([
    ["add OBJ PLACE", () => request(w, `${w.pick(withSynonyms(["add", "draw", "put", "insert", "place", "stick"], "insert"))} ${obj} ${place}`)],
    ["I'd like OBJ PLACE", () => dress(w, `I'd like ${obj} ${place}`)],
    ["there should be OBJ PLACE", () => dress(w, `there should be ${obj} ${place}`)],
    ["PLACE, add OBJ", () => dress(w, `${place}, ${w.pick(["add", "put", "draw"])} ${obj}`)],
    ["can you put OBJ PLACE", () => dress(w, `can you ${w.pick(["put", "add", "draw"])} ${obj} ${place}?`)],
  ])();
}

function moveSentence(w: Wording, ref: string, dir: Direction): string {
  const to = w.pick(DIRECTIONS[dir]);
  return w.frame<() => string>([
    ["move REF DIR", () => request(w, `${w.pick(withSynonyms(["move", "shift", "push", "slide", "nudge", "drag", "bump"], "move"))} ${ref} ${to}`)],
    ["REF should be further DIR", () => dress(w, `${ref} should be ${w.any(["further", "more", ""])} ${to}`)],
    ["put REF more DIR", () => request(w, `put ${ref} ${w.any(["further", "more", ""])} ${to}`)],
  ])();
}

function resizeSentence(w: Wording, ref: string, bigger: boolean): string {
  if (bigger) {
    return w.frame<() => string>([
      ["make REF bigger", () => request(w, `make ${ref} ${w.pick(["bigger", "larger", "huge", "grow", "more prominent"])}`)],
      ["enlarge REF", () => request(w, `${w.pick(withSynonyms(["enlarge", "scale up", "grow", "upsize", "expand"], "enlarge"))} ${ref}`)],
      ["increase the size of REF", () => request(w, `${w.pick(["increase", "double", "boost"])} the size of ${ref}`)],
      ["REF should be larger", () => dress(w, `${ref} should be ${w.pick(["larger", "bigger"])}`)],
    ])();
  }
  return w.frame<() => string>([
    ["make REF smaller", () => request(w, `make ${ref} ${w.pick(["smaller", "tiny", "little", "less prominent"])}`)],
    ["shrink REF", () => request(w, `${w.pick(withSynonyms(["shrink", "scale down", "downsize", "minimise"], "shrink"))} ${ref}`)],
    ["decrease the size of REF", () => request(w, `${w.pick(["decrease", "reduce", "halve", "cut"])} the size of ${ref}`)],
    ["REF should be smaller", () => dress(w, `${ref} should be ${w.pick(["smaller", "tinier"])}`)],
  ])();
}

function reshapeSentence(w: Wording, ref: string, o: ObjectLooks, shape: Shape): string {
  const to = shapeWord(w, shape);
  const a = /^[aeiou]/.test(to) ? "an" : "a";
  return w.frame<() => string>([
    ["turn REF into a S", () => request(w, `${w.pick(["turn", "change", "reshape", "morph", "transform", "convert"])} ${ref} into ${a} ${to}`)],
    ["make REF a S instead", () => request(w, `make ${ref} ${a} ${to} instead`)],
    ["replace REF with a C S", () => request(w, `${w.pick(["replace", "swap"])} ${ref} ${w.any(["with", "for"])} a ${o.color} ${to}`)],
    ["REF should be a S", () => dress(w, `${ref} should be ${a} ${to}`)],
    ["I want REF as a S", () => dress(w, `I want ${ref} as ${a} ${to}`)],
  ])();
}

const ODD_ONE = [
  "the odd one out",
  "the shape that doesn't belong",
  "the different shape",
  "the one that's a different shape",
  "the oddball",
  "the shape that doesn't match the others",
  "the misfit",
];
const FAMILIES: Record<"odd-colour" | "biggest" | "smallest", string[]> = {
  "odd-colour": [
    "make the odd colour match the rest",
    "make them all the same colour",
    "recolour the one that doesn't match",
    "make all the shapes one colour",
    "~the different coloured one should match the others",
    "fix the one with the wrong colour",
    "make the colours consistent",
    "paint the odd-coloured one like the others",
    "~every shape should have the same colour",
    "match the odd colour to the others",
  ],
  biggest: [
    "remove the biggest object",
    "get rid of the largest shape",
    "delete the biggest one",
    "take out the largest thing",
    "lose the big one",
    "remove the one that's biggest",
    "erase the largest shape",
    "~the big one has to go",
  ],
  smallest: [
    "remove the smallest object",
    "get rid of the tiniest shape",
    "delete the smallest one",
    "take out the smallest thing",
    "lose the little one",
    "remove the one that's smallest",
    "erase the tiniest shape",
    "~the tiny one has to go",
  ],
};

/** A local edit's request in words, or null when `r` is not a local edit. */
export function localEditSentence(w: Wording, r: LocalRequest): string {
  if (r.op === "recolour" && r.family === "odd-shape") return recolourSentence(w, w.pick(ODD_ONE), r.color);
  if ((r.op === "recolour" || r.op === "remove") && r.family) return request(w, w.pick(FAMILIES[r.family as keyof typeof FAMILIES]));
  if (r.op === "add") return addSentence(w, r.object, r.position);
  const ref = referTo(w, r.object, r.scene);
  switch (r.op) {
    case "recolour":
      return recolourSentence(w, ref, r.color);
    case "remove":
      return removeSentence(w, ref);
    case "move":
      return moveSentence(w, ref, r.direction);
    case "resize":
      return resizeSentence(w, ref, r.bigger);
    case "reshape":
      return reshapeSentence(w, ref, r.object, r.shape);
  }
}

/** A local edit of an object the scene does not have ("make the green star red" with no green star). */
export function absentObjectSentence(
  w: Wording,
  r: Extract<UnsupportedRequest, { reason: "absent" }>,
  other: { color: ColorName; shape: Shape; bigger: boolean; direction: Direction },
): string {
  const ref = referTo(w, r.object, [...r.scene, { ...r.object, size: "small" }]);
  const looks = { ...r.object, size: "small" as const };
  switch (r.asked) {
    case "recolour":
      return recolourSentence(w, ref, other.color);
    case "remove":
      return removeSentence(w, ref);
    case "move":
      return moveSentence(w, ref, other.direction);
    case "resize":
      return resizeSentence(w, ref, other.bigger);
    case "reshape":
    case "add":
      return reshapeSentence(w, ref, looks, other.shape);
  }
}
