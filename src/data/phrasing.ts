import type { Rng } from "../core/rng.js";

/**
 * Turns one of several hand-written phrasings into an instruction "as a person would type it":
 * sometimes capitalised, sometimes polite, with or without final punctuation.
 */
export function say(rng: Rng, phrasings: readonly string[]): string {
  let text = rng.pick(phrasings);
  if (rng.chance(0.15) && !/please/.test(text) && !/\?$/.test(text)) text = rng.chance(0.5) ? `please ${text}` : `${text} please`;
  if (rng.chance(0.5)) text = text[0].toUpperCase() + text.slice(1);
  if (!/[?!.]$/.test(text))
    text += rng.weighted([
      ["", 5],
      [".", 3],
      ["!", 1],
    ] as const);
  return text;
}

/** Words for an amount quantised to 20 / 40 / 60 %: what a person says instead of a number. */
export function amountWords(percent: number): { adverb: string; number: string } {
  const adverb = percent <= 20 ? "a little" : percent >= 60 ? "a lot" : "";
  return { adverb, number: `${percent}%` };
}
