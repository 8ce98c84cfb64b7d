import type { Tokenizer } from "./tokenizer.js";

interface TrieNode {
  next: Map<number, TrieNode>;
  /** Whether the tokens so far spell a whole expressive instruction. */
  end: boolean;
}

/**
 * The expressive instructions a model was trained to give (its expressive.json), as a trie of their
 * tokens: decoding may only follow it, so every instruction the LM gives the editor is one it knows,
 * never garbled text (constrained decoding).
 */
export class ExpressiveTrie {
  private readonly root: TrieNode = { next: new Map(), end: false };

  constructor(texts: readonly string[], tok: Tokenizer) {
    for (const text of texts) {
      let node = this.root;
      for (const id of tok.encode(text)) {
        let child = node.next.get(id);
        if (!child) {
          child = { next: new Map(), end: false };
          node.next.set(id, child);
        }
        node = child;
      }
      node.end = true;
    }
  }

  /** A walk from the start: the tokens allowed next, and whether the instruction may end here. */
  walk(): { allowed: () => Iterable<number>; canEnd: () => boolean; step: (id: number) => void } {
    let node = this.root;
    return {
      allowed: () => node.next.keys(),
      canEnd: () => node.end,
      step: (id) => {
        const child = node.next.get(id);
        if (!child) throw new RangeError(`token ${id} does not continue an expressive instruction`);
        node = child;
      },
    };
  }
}
