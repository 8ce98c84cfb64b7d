"""python3 -m mgie_train.minilm.fixtures [--model DIR] [--out DIR]: writes the fixtures with which
test/wordpiece.test.ts and test/minilm.test.ts check the TypeScript tokenizer and encoder against these.

  wordpiece.json   tricky strings, each with its max_tokens and this tokenizer's ids and truncation
  states.json      sentences with their ids, and where their states are in states.f32
  states.f32       little-endian float32: each sentence's token states [tokens, dim] in turn (encoded
                   one at a time, no padding), then the sentence embeddings [sentences, dim]

Run it again after rebuilding models/minilm (python3 -m mgie_train.minilm.build).
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

from .model_dir import DEFAULT_DIR, load_encoder

OUT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "test", "fixtures", "minilm"))

# (text, max_tokens): accents, punctuation, symbols, scripts, emoji, invisible characters, long words, truncation.
TOKENIZER_CASES: list[tuple[str, int]] = [
    ("", 64),
    ("   ", 64),
    ("\t\n\r ", 64),
    ("make it brighter", 64),
    ("Make It BRIGHTER", 64),
    ("b&w", 64),
    ("turn it b&w!", 64),
    ("rotate it 90°", 64),
    ("don't", 64),
    ("Don\u2019t touch the sky", 64),
    ("it's 5 o'clock", 64),
    ("40%", 64),
    ("increase the saturation by 40%.", 64),
    ("3.14159", 64),
    ("1,000,000 pixels", 64),
    ("3x zoom, 1080p, 4K", 64),
    ("café", 64),
    ("Crème brûlée", 64),
    ("naïve résumé", 64),
    ("Ångström", 64),
    ("São Paulo", 64),
    ("Straße", 64),
    ("İstanbul", 64),
    ("ΣΑΣ ΟΔΟΣ", 64),
    ("Ελληνικά", 64),
    ("Привет, мир", 64),
    ("こんにちは世界", 64),
    ("我喜欢猫", 64),
    ("豈", 64),
    ("\U00020000 ext B", 64),
    ("한국어", 64),
    ("العربية", 64),
    ("עברית", 64),
    ("हिन्दी", 64),
    ("ไทย", 64),
    ("emoji 😀 test", 64),
    ("🎨🖌️", 64),
    ("👍🏽", 64),
    ("👨\u200d👩\u200d👧", 64),
    ("🇫🇷", 64),
    ("a" * 100, 64),
    ("a" * 101, 64),
    ("supercalifragilisticexpialidocious", 64),
    ("pneumonoultramicroscopicsilicovolcanoconiosis", 64),
    ("xqzjvk", 64),
    ("hello\x00world", 64),
    ("zero\u200bwidth", 64),
    ("soft\u00adhyphen", 64),
    ("non\u00a0breaking", 64),
    ("line\u2028separator", 64),
    ("para\u2029graph", 64),
    ("tab\there", 64),
    ("Hello\r\nWorld", 64),
    ("ideographic\u3000space", 64),
    ("replacement \ufffd char", 64),
    ("control \x07 bell", 64),
    ("mongolian\u180evowel", 64),
    ("e\u0301", 64),
    ("\u0301", 64),
    ("x^2 + y^2 = z^2", 64),
    ("$100 @home #1 ~approx |pipe| `tick`", 64),
    ("user@host path/to/file.png", 64),
    ("C++ and C#", 64),
    ("«quotes» „German“ 'single'", 64),
    ("—em dash– en dash - hyphen", 64),
    ("…ellipsis", 64),
    ("¿Qué? ¡Sí!", 64),
    ("½ cup, ¼ inch", 64),
    ("ﬁne", 64),
    ("Ⅻ", 64),
    ("™ © ®", 64),
    ("H₂O", 64),
    ("ｆｕｌｌｗｉｄｔｈ ＡＢＣ", 64),
    ("Ǆ", 64),
    ("unbelievably unaffordable", 64),
    ("photo-realistic, high-contrast", 64),
    ("CamelCaseWordsTogether", 64),
    ("snake_case_words", 64),
    ("...!!!???", 64),
    ("make it brighter " * 30, 64),
    ("make it brighter " * 30, 8),
    ("a b c d e f g h", 5),
    ("", 2),
    ("word", 2),
]

# Sentences whose token states the TypeScript encoder must reproduce.
STATE_SENTENCES = [
    "make it brighter",
    "lighten it up",
    "flip it upside down",
    "Turn the day scene into night, please!",
    "remove the café's neon sign (the one on the left)",
]


def write(model_dir: str, out: str) -> None:
    tokenizer, encoder = load_encoder(model_dir)
    os.makedirs(out, exist_ok=True)
    cases = []
    for text, max_tokens in TOKENIZER_CASES:
        e = tokenizer.encode(text, max_tokens)
        cases.append({"text": text, "max_tokens": max_tokens, "ids": e.ids, "truncated": e.truncated})
    with open(os.path.join(out, "wordpiece.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")

    sentences, states, embeddings = [], [], []
    with torch.no_grad():
        for text in STATE_SENTENCES:
            ids = torch.tensor([tokenizer.encode(text).ids])
            mask = torch.ones_like(ids)
            states.append(encoder(ids, mask)[0].numpy())
            embeddings.append(encoder.sentence_embedding(ids, mask)[0].numpy())
            sentences.append({"text": text, "ids": ids[0].tolist()})
    data = np.concatenate([s.reshape(-1) for s in states] + [np.stack(embeddings).reshape(-1)]).astype("<f4")
    with open(os.path.join(out, "states.f32"), "wb") as f:
        f.write(data.tobytes())
    with open(os.path.join(out, "states.json"), "w", encoding="utf-8") as f:
        json.dump({"dim": encoder.cfg.dim, "file": "states.f32", "sentences": sentences}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} tokenizer cases and the states of {len(sentences)} sentences to {out}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python3 -m mgie_train.minilm.fixtures", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=DEFAULT_DIR, help="the encoder folder (default: the checkout's models/minilm)")
    p.add_argument("--out", default=OUT, help="where to write (default: the checkout's test/fixtures/minilm)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    write(args.model, args.out)


if __name__ == "__main__":
    main()
