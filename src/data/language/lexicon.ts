import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { DataFormatError } from "../../errors.js";

/** The words SynthEdit takes from WordNet: written by scripts/build-lexicon.ts (licence beside it). */
export const WORDNET_FILE = fileURLToPath(new URL("../../../assets/language/wordnet.json", import.meta.url));

const WordNetSchema = z.object({
  slots: z.record(z.string(), z.array(z.string().min(1)).min(1)),
  outOfScope: z.object({
    nouns: z.record(z.string(), z.array(z.string().min(1))),
    verbs: z.record(z.string(), z.array(z.string().min(1))),
  }),
});
export type WordNetWords = z.infer<typeof WordNetSchema>;

let loaded: WordNetWords | null = null;

export function wordnet(): WordNetWords {
  if (loaded) return loaded;
  try {
    loaded = WordNetSchema.parse(JSON.parse(readFileSync(WORDNET_FILE, "utf8")));
  } catch (cause) {
    throw new DataFormatError(`${WORDNET_FILE} is missing or invalid (rebuild it with 'npm run build-lexicon'): ${(cause as Error).message}`, { cause });
  }
  return loaded;
}

/** Hand-picked words first (the first is the common one, always in train), then WordNet's synonyms. */
export function withSynonyms(words: readonly string[], slot: string): string[] {
  const extra = wordnet().slots[slot];
  if (!extra) throw new DataFormatError(`${WORDNET_FILE} has no slot '${slot}' (rebuild it with 'npm run build-lexicon')`);
  return [...new Set([...words, ...extra])];
}
