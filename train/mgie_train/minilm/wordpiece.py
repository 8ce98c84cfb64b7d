"""BERT's uncased WordPiece tokenizer, as all-MiniLM-L6-v2 was trained with it.

Basic tokenization first: control characters are dropped, whitespace becomes a space, each CJK
ideograph becomes a word of its own, words are lowercased and their accents stripped (NFD, combining
marks dropped), and every punctuation character is split off as a word of its own. Then each word is
cut into the longest vocabulary pieces from its start ("##" marks a piece that continues a word); a
word that cannot be cut, or is longer than 100 characters, becomes [UNK]. The sequence is framed as
[CLS] ... [SEP].

src/models/wordpiece.ts implements the same algorithm (test/wordpiece.test.ts checks the two agree).
Character classes come from Python's unicodedata; characters that Unicode assigned after the Python's
Unicode version may be classed differently from Node's.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

MAX_WORD_CHARS = 100
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
MAX_VOCAB_BYTES = 4 << 20

# CJK ideograph blocks (the ranges BERT's tokenizer splits character by character; not Hangul or kana).
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
# ASCII characters that are not letters or digits count as punctuation although Unicode classes some of
# them as symbols (^ $ ` + < = > | ~).
_ASCII_PUNCTUATION_RANGES = ((33, 47), (58, 64), (91, 96), (123, 126))


def _is_whitespace(ch: str) -> bool:
    # Line and paragraph separators (Zl, Zp) are whitespace too: BERT's str.split() splits on them.
    return ch in " \t\n\r" or unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def _is_control(ch: str) -> bool:
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _ASCII_PUNCTUATION_RANGES) or unicodedata.category(ch).startswith("P")


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def basic_words(text: str) -> list[str]:
    """The words of `text` before WordPiece: cleaned, CJK split, lowercased, accents stripped, punctuation split."""
    spaced = []
    for ch in text:
        if ch == "\0" or ch == "\ufffd" or _is_control(ch):
            continue
        if _is_whitespace(ch):
            spaced.append(" ")
        elif _is_cjk(ch):
            spaced.append(f" {ch} ")
        else:
            spaced.append(ch)
    words = []
    for word in "".join(spaced).split(" "):
        # Lowercasing goes first: the lowercase of some capitals carries a combining mark (İ -> i + U+0307).
        decomposed = unicodedata.normalize("NFD", word.lower())
        current = ""
        for ch in decomposed:
            if unicodedata.category(ch) == "Mn":
                continue
            if _is_punctuation(ch):
                if current:
                    words.append(current)
                words.append(ch)
                current = ""
            else:
                current += ch
        if current:
            words.append(current)
    return words


@dataclass(frozen=True)
class Encoding:
    """Token ids framed as [CLS] ... [SEP]; `truncated` when the text had more pieces than fit."""

    ids: list[int]
    truncated: bool


class WordPieceTokenizer:
    """Tokens of a BERT vocabulary; `max_tokens` is the most ids a text is encoded to unless encode is told
    otherwise ([CLS] and [SEP] included)."""

    def __init__(self, vocab: list[str], max_tokens: int):
        self.vocab = vocab
        self.max_tokens = max_tokens
        self.ids = {token: i for i, token in enumerate(vocab)}
        if len(self.ids) != len(vocab):
            raise ValueError("the vocabulary lists a token twice: it is not a BERT vocabulary")
        missing = [t for t in SPECIAL_TOKENS if t not in self.ids]
        if missing:
            raise ValueError(f"the vocabulary has no {', '.join(missing)}: it is not a BERT vocabulary")
        self.pad, self.unk, self.cls, self.sep = (self.ids[t] for t in SPECIAL_TOKENS)

    @staticmethod
    def from_file(path: str, max_tokens: int) -> "WordPieceTokenizer":
        """Reads a BERT vocab.txt: one token a line, its line number its id."""
        with open(path, "rb") as f:
            data = f.read(MAX_VOCAB_BYTES + 1)
        if len(data) > MAX_VOCAB_BYTES:
            raise ValueError(f"{path} is over {MAX_VOCAB_BYTES} bytes: not a BERT vocab.txt")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{path} is not UTF-8 text ({e}): not a BERT vocab.txt") from e
        return WordPieceTokenizer(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), max_tokens)

    def word_pieces(self, word: str) -> list[str]:
        """Greedy longest-match-first pieces of one word; [UNK] for a word that cannot be cut or is too long."""
        if len(word) > MAX_WORD_CHARS:
            return ["[UNK]"]
        pieces = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    break
                end -= 1
            if end == start:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """The WordPiece tokens of `text`, without [CLS] and [SEP]."""
        return [piece for word in basic_words(text) for piece in self.word_pieces(word)]

    def encode(self, text: str, max_tokens: int | None = None) -> Encoding:
        """[CLS] + the text's token ids + [SEP], at most `max_tokens` ids in all (default: the tokenizer's):
        the text's tokens beyond max_tokens - 2 are dropped (truncated=True)."""
        max_tokens = self.max_tokens if max_tokens is None else max_tokens
        if max_tokens < 2:
            raise ValueError(f"max_tokens is {max_tokens}: it must leave room for [CLS] and [SEP] (at least 2)")
        ids = [self.ids[piece] for piece in self.tokenize(text)]
        room = max_tokens - 2
        return Encoding([self.cls, *ids[:room], self.sep], len(ids) > room)

    def encode_batch(self, texts: list[str], max_tokens: int | None = None) -> tuple[list[list[int]], list[list[int]]]:
        """The encoder's inputs for `texts`: ids [B,T] padded with [PAD] to the longest text, and the attention
        mask [B,T] (1 for a token, 0 for padding)."""
        encoded = [self.encode(t, max_tokens).ids for t in texts]
        longest = max(map(len, encoded), default=0)
        ids = [e + [self.pad] * (longest - len(e)) for e in encoded]
        mask = [[1] * len(e) + [0] * (longest - len(e)) for e in encoded]
        return ids, mask
