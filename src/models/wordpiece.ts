import { DataFormatError } from "../errors.js";

/**
 * BERT's uncased WordPiece tokenizer, the same algorithm as train/mgie_train/minilm/wordpiece.py
 * (test/wordpiece.test.ts checks that both give the same ids).
 *
 * Basic tokenization first: control characters are dropped, whitespace becomes a space, each CJK
 * ideograph becomes a word of its own, words are lowercased and their accents stripped (NFD, combining
 * marks dropped), and every punctuation character is split off as a word of its own. Then each word is
 * cut into the longest vocabulary pieces from its start ("##" marks a piece that continues a word); a word
 * that cannot be cut, or is longer than 100 characters, becomes [UNK]. Characters that Unicode assigned
 * after the Python's Unicode version may be classed differently on the two sides.
 */
const MAX_WORD_CHARS = 100;

// CJK ideograph blocks (the ranges BERT's tokenizer splits character by character; not Hangul or kana).
const CJK_RANGES: readonly (readonly [number, number])[] = [
  [0x4e00, 0x9fff],
  [0x3400, 0x4dbf],
  [0x20000, 0x2a6df],
  [0x2a700, 0x2b73f],
  [0x2b740, 0x2b81f],
  [0x2b820, 0x2ceaf],
  [0xf900, 0xfaff],
  [0x2f800, 0x2fa1f],
];
// ASCII characters that are not letters or digits count as punctuation although Unicode classes some of
// them as symbols (^ $ ` + < = > | ~).
const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/;
const PUNCTUATION = /\p{P}/u;
const CONTROL = /\p{C}/u;
// Line and paragraph separators are whitespace too: BERT's str.split() splits on them.
const WHITESPACE = /[ \t\n\r\p{Zs}\p{Zl}\p{Zp}]/u;
const COMBINING_MARKS = /\p{Mn}/gu;

function isCjk(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  return CJK_RANGES.some(([lo, hi]) => lo <= cp && cp <= hi);
}

/** The words of `text` before WordPiece: cleaned, CJK split, lowercased, accents stripped, punctuation split. */
export function basicWords(text: string): string[] {
  let spaced = "";
  for (const ch of text) {
    if (WHITESPACE.test(ch)) spaced += " ";
    else if (ch === "\0" || ch === "\ufffd" || CONTROL.test(ch)) continue;
    else if (isCjk(ch)) spaced += ` ${ch} `;
    else spaced += ch;
  }
  const words: string[] = [];
  for (const word of spaced.split(" ")) {
    // Lowercasing goes first: the lowercase of some capitals carries a combining mark (İ -> i + U+0307).
    let current = "";
    for (const ch of word.toLowerCase().normalize("NFD").replace(COMBINING_MARKS, "")) {
      if (ASCII_PUNCTUATION.test(ch) || PUNCTUATION.test(ch)) {
        if (current) words.push(current);
        words.push(ch);
        current = "";
      } else {
        current += ch;
      }
    }
    if (current) words.push(current);
  }
  return words;
}

export interface WordPieceEncoding {
  /** [CLS] + the text's token ids + [SEP]. */
  ids: number[];
  /** The text had more tokens than fit: those beyond maxTokens - 2 were dropped. */
  truncated: boolean;
}

export class WordPieceTokenizer {
  readonly pad: number;
  readonly unk: number;
  readonly cls: number;
  readonly sep: number;
  readonly vocabSize: number;
  private readonly ids = new Map<string, number>();

  /** From the text of a BERT vocab.txt: one token a line, its line number its id. */
  constructor(vocabText: string, label = "vocab.txt") {
    const tokens = vocabText.split("\n");
    if (vocabText.endsWith("\n")) tokens.pop();
    for (const [i, token] of tokens.entries()) {
      if (this.ids.has(token)) throw new DataFormatError(`${label} lists the token ${JSON.stringify(token)} twice: the vocabulary is corrupt`);
      this.ids.set(token, i);
    }
    this.vocabSize = tokens.length;
    const special = (token: string): number => {
      const id = this.ids.get(token);
      if (id === undefined) throw new DataFormatError(`${label} has no ${token}: it is not a BERT vocabulary`);
      return id;
    };
    this.pad = special("[PAD]");
    this.unk = special("[UNK]");
    this.cls = special("[CLS]");
    this.sep = special("[SEP]");
  }

  /** Greedy longest-match-first pieces of one word (as ids); [UNK] for a word that cannot be cut or is too long. */
  private wordPieces(word: string): number[] {
    const chars = Array.from(word);
    if (chars.length > MAX_WORD_CHARS) return [this.unk];
    const pieces: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let id: number | undefined;
      for (; end > start; end--) {
        const piece = chars.slice(start, end).join("");
        id = this.ids.get(start === 0 ? piece : `##${piece}`);
        if (id !== undefined) break;
      }
      if (id === undefined) return [this.unk];
      pieces.push(id);
      start = end;
    }
    return pieces;
  }

  /** The WordPiece token ids of `text`, without [CLS] and [SEP]. */
  tokenize(text: string): number[] {
    return basicWords(text).flatMap((w) => this.wordPieces(w));
  }

  /** [CLS] + the text's token ids + [SEP], at most `maxTokens` ids in all: tokens beyond maxTokens - 2 are dropped. */
  encode(text: string, maxTokens: number): WordPieceEncoding {
    if (!Number.isInteger(maxTokens) || maxTokens < 2)
      throw new RangeError(`maxTokens is ${maxTokens}: it must leave room for [CLS] and [SEP] (an integer ≥ 2)`);
    const ids = this.tokenize(text);
    return { ids: [this.cls, ...ids.slice(0, maxTokens - 2), this.sep], truncated: ids.length > maxTokens - 2 };
  }
}
