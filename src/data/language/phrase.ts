import type { Rng } from "../../core/rng.js";
import { COLOR_NAMES, SHAPES } from "../scene/objects.js";
import type { Split } from "../splits.js";
import { globalEditSentence } from "./globalGrammar.js";
import { absentObjectSentence, localEditSentence } from "./localGrammar.js";
import { unsupportedSentence } from "./outOfScopeGrammar.js";
import { photoEditSentence } from "./photoGrammar.js";
import type { EditRequest } from "./request.js";
import { Wording } from "./wording.js";

/** Tries for a validation or test sentence that uses at least one of its split's own words. */
const HELD_OUT_TRIES = 30;

export interface Phrasing {
  text: string;
  /** Whether the sentence uses wording that only its split has (always false in train). */
  heldOut: boolean;
}

function sentence(w: Wording, r: EditRequest): string {
  if (r.op === "unsupported") {
    if (r.reason === "repertoire") return unsupportedSentence(w, r);
    return absentObjectSentence(w, r, {
      color: w.any(COLOR_NAMES.filter((c) => c !== r.object.color)),
      shape: w.any(SHAPES.filter((s) => s !== r.object.shape)),
      bigger: w.chance(0.5),
      direction: w.any(["left", "right", "up", "down"] as const),
    });
  }
  if ("scene" in r) return localEditSentence(w, r);
  const text = photoEditSentence(w, r) ?? globalEditSentence(w, r);
  if (text === null) throw new RangeError(`no wording for the edit '${r.op}'`);
  return text;
}

/**
 * The request in words, as a person of the split's wording would type it: train's words for train,
 * and for validation and test a sentence with at least one word choice only that split has, where
 * the grammar offers one.
 */
export function phrase(r: EditRequest, rng: Rng, split: Split): Phrasing {
  let w = new Wording(rng, split);
  let text = sentence(w, r);
  for (let i = 1; split !== "train" && !w.heldOut && i < HELD_OUT_TRIES; i++) {
    w = new Wording(rng, split);
    text = sentence(w, r);
  }
  return { text, heldOut: w.heldOut };
}
