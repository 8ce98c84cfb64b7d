import json
import os
import struct
import tempfile
import unittest

import numpy as np
import torch

from mgie_train.minilm import BertConfig, BertEncoder, EncoderDirError, WordPieceTokenizer, load_encoder
from mgie_train.minilm.build import checkpoint_names, export_onnx, quantise, quantised_names
from mgie_train.minilm.model_dir import DEFAULT_DIR, dequantise, onnx_weights
from mgie_train.minilm.safetensors_reader import SafetensorsError, read_safetensors
from mgie_train.minilm.wordpiece import basic_words

TINY = BertConfig(vocab_size=40, dim=16, layers=2, heads=4, ffn_dim=32, max_positions=12)
SMALL_VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "un",
    "##aff",
    "##able",
    "make",
    "it",
    "bright",
    "##er",
    "a",
    "##a",
    "&",
    "b",
    "w",
]
BUILT = os.path.isfile(os.path.join(DEFAULT_DIR, "manifest.json"))
NOT_BUILT = f"{DEFAULT_DIR} is not built (cd train && /usr/bin/python3 -m mgie_train.minilm.build)"


def tiny_encoder(seed: int = 0) -> BertEncoder:
    torch.manual_seed(seed)
    return BertEncoder(TINY).eval()


class WordPieceTest(unittest.TestCase):
    def setUp(self):
        self.tok = WordPieceTokenizer(SMALL_VOCAB, 8)

    def test_basic_words_clean_lowercase_strip_accents_and_split_punctuation(self):
        cases = {
            "Crème-Brûlée, 40%!": ["creme", "-", "brulee", ",", "40", "%", "!"],
            "b&w": ["b", "&", "w"],
            "don't": ["don", "'", "t"],
            "Don\u2019t": ["don", "\u2019", "t"],
            "rotate 90°": ["rotate", "90°"],
            "x^2+y": ["x", "^", "2", "+", "y"],
            "我喜欢猫": ["我", "喜", "欢", "猫"],
            "zero\u200bwidth soft\u00adhyphen bell\x07": ["zerowidth", "softhyphen", "bell"],
            "non\u00a0breaking\u2028line\ttab\r\nend": ["non", "breaking", "line", "tab", "end"],
            "İstanbul ΣΑΣ": ["istanbul", "σας"],
            "e\u0301 \u0301": ["e"],
            "": [],
            " \t\n ": [],
        }
        for text, words in cases.items():
            self.assertEqual(basic_words(text), words, text)

    def test_greedy_longest_pieces_and_unk(self):
        self.assertEqual(self.tok.tokenize("Unaffable"), ["un", "##aff", "##able"])
        self.assertEqual(self.tok.tokenize("make it BRIGHTER b&w"), ["make", "it", "bright", "##er", "b", "&", "w"])
        self.assertEqual(self.tok.tokenize("unaffablex"), ["[UNK]"])
        self.assertEqual(len(self.tok.tokenize("a" * 100)), 100)
        self.assertEqual(self.tok.tokenize("a" * 101), ["[UNK]"])

    def test_encode_frames_and_truncates(self):
        cls, sep = self.tok.cls, self.tok.sep
        self.assertEqual(self.tok.encode("").ids, [cls, sep])
        e = self.tok.encode("make it brighter")
        self.assertEqual((e.ids, e.truncated), ([cls, 7, 8, 9, 10, sep], False))
        e = self.tok.encode("make it brighter", 4)
        self.assertEqual((e.ids, e.truncated), ([cls, 7, 8, sep], True))
        with self.assertRaises(ValueError):
            self.tok.encode("x", 1)
        ids, mask = self.tok.encode_batch(["make it", "b&w", ""])
        self.assertEqual(ids, [[cls, 7, 8, sep, 0], [cls, 14, 13, 15, sep], [cls, sep, 0, 0, 0]])
        self.assertEqual(mask, [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])

    def test_refuses_a_vocabulary_that_is_not_bert(self):
        with self.assertRaisesRegex(ValueError, "twice"):
            WordPieceTokenizer(SMALL_VOCAB + ["make"], 8)
        with self.assertRaisesRegex(ValueError, r"\[SEP\]"):
            WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]"], 8)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "vocab.txt")
            with open(path, "wb") as f:
                f.write(b"[PAD]\n\xff\n")
            with self.assertRaisesRegex(ValueError, "not UTF-8"):
                WordPieceTokenizer.from_file(path, 8)


class BertEncoderTest(unittest.TestCase):
    def test_shapes_and_unit_sentence_embeddings(self):
        enc = tiny_encoder()
        ids = torch.tensor([[2, 7, 8, 3, 0], [2, 9, 10, 11, 3]])
        mask = (ids != 0).long()
        with torch.no_grad():
            self.assertEqual(tuple(enc(ids, mask).shape), (2, 5, TINY.dim))
            emb = enc.sentence_embedding(ids, mask)
        self.assertEqual(tuple(emb.shape), (2, TINY.dim))
        torch.testing.assert_close(emb.norm(dim=1), torch.ones(2))

    def test_padding_does_not_change_a_texts_states(self):
        enc = tiny_encoder()
        alone = torch.tensor([[2, 7, 8, 3]])
        padded = torch.tensor([[2, 7, 8, 3, 0, 0]])
        with torch.no_grad():
            a = enc(alone, torch.ones_like(alone))
            b = enc(padded, (padded != 0).long())
            torch.testing.assert_close(b[:, :4], a)
            torch.testing.assert_close(
                enc.sentence_embedding(padded, (padded != 0).long()), enc.sentence_embedding(alone, torch.ones_like(alone))
            )

    def test_load_weights_names_what_is_wrong(self):
        enc = tiny_encoder()
        weights = {name: p.detach().numpy() + 1 for name, p in enc.named_parameters()}
        enc.load_weights(weights)
        torch.testing.assert_close(enc.embeddings.word.weight, torch.from_numpy(weights["embeddings.word.weight"]))
        with self.assertRaisesRegex(ValueError, "layers.1.ffn_in.bias is missing"):
            enc.load_weights({k: v for k, v in weights.items() if k != "layers.1.ffn_in.bias"})
        with self.assertRaisesRegex(ValueError, r"layers.0.attention.query.weight has shape \[16, 8\], expected \[16, 16\]"):
            enc.load_weights(weights | {"layers.0.attention.query.weight": np.zeros((16, 8), np.float32)})
        with self.assertRaisesRegex(ValueError, "pooler.weight is not a parameter"):
            enc.load_weights(weights | {"pooler.weight": np.zeros(1, np.float32)})

    def test_checkpoint_names_cover_every_parameter(self):
        names = checkpoint_names(TINY)
        self.assertEqual(set(names), {name for name, _ in tiny_encoder().named_parameters()})
        self.assertEqual(names["layers.1.attention.query.weight"], "encoder.layer.1.attention.self.query.weight")
        self.assertEqual(names["embeddings.norm.bias"], "embeddings.LayerNorm.bias")


def safetensors_bytes(tensors: dict[str, np.ndarray], header_patch: dict | None = None) -> bytes:
    header, data, offset = {"__metadata__": {"format": "pt"}}, b"", 0
    for name, a in tensors.items():
        raw = a.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        data, offset = data + raw, offset + len(raw)
    header |= header_patch or {}
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


class SafetensorsTest(unittest.TestCase):
    def test_reads_the_tensors(self):
        a, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(4, np.float32)
        out = read_safetensors(safetensors_bytes({"a": a, "b": b}), "t")
        np.testing.assert_array_equal(out["a"], a)
        np.testing.assert_array_equal(out["b"], b)

    def test_refuses_truncated_or_inconsistent_files(self):
        good = safetensors_bytes({"a": np.ones((2, 3), np.float32)})
        with self.assertRaisesRegex(SafetensorsError, "truncated"):
            read_safetensors(good[:-4], "t")
        with self.assertRaisesRegex(SafetensorsError, "truncated"):
            read_safetensors(good[:20], "t")
        with self.assertRaisesRegex(SafetensorsError, "truncated before its header"):
            read_safetensors(good[:5], "t")
        with self.assertRaisesRegex(SafetensorsError, "need 24"):
            read_safetensors(
                safetensors_bytes(
                    {"a": np.ones((2, 3), np.float32)}, {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}}
                ),
                "t",
            )
        with self.assertRaisesRegex(SafetensorsError, "does not know"):
            read_safetensors(safetensors_bytes({}, {"a": {"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}}), "t")
        two = {"a": np.ones(2, np.float32), "b": np.ones(2, np.float32)}
        with self.assertRaisesRegex(SafetensorsError, "overlap"):
            read_safetensors(safetensors_bytes(two, {"b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}), "t")
        with self.assertRaisesRegex(SafetensorsError, "not JSON"):
            read_safetensors(struct.pack("<Q", 4) + b"{{{{", "t")


class QuantisationTest(unittest.TestCase):
    def test_rows_are_int8_within_half_a_step(self):
        w = np.random.default_rng(0).normal(size=(5, 7)).astype(np.float32)
        w[3] = 0
        q, scale = quantise(w)
        self.assertEqual((q.dtype, scale.dtype, scale.shape), (np.int8, np.float32, (5,)))
        self.assertEqual(np.abs(q).max(axis=1).tolist(), [127, 127, 127, 0, 127])
        self.assertTrue(np.all(np.abs(dequantise(q, scale) - w) <= scale[:, None] / 2 + 1e-7))

    def test_onnx_file_gives_back_the_dequantised_weights(self):
        enc = tiny_encoder()
        # No two parameters alike (the exporter would merge them).
        rng = np.random.default_rng(0)
        weights = {name: rng.normal(size=p.shape).astype(np.float32) for name, p in enc.named_parameters()}
        quantised = {name: quantise(weights[name]) for name in quantised_names(enc)}
        self.assertIn("embeddings.word.weight", quantised)
        self.assertIn("layers.1.ffn_out.weight", quantised)
        enc.load_weights(weights | {name: dequantise(q, s) for name, (q, s) in quantised.items()})
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "enc.onnx")
            export_onnx(enc, quantised, path)
            back = onnx_weights(path)
        for name, p in enc.named_parameters():
            np.testing.assert_array_equal(back[name], p.detach().numpy(), err_msg=name)


class LoadEncoderTest(unittest.TestCase):
    def test_missing_folder_says_how_to_build(self):
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaisesRegex(EncoderDirError, r"no manifest.json\): build it with .*mgie_train.minilm.build"):
                load_encoder(tmp)

    @unittest.skipUnless(BUILT, NOT_BUILT)
    def test_a_changed_file_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(DEFAULT_DIR, "manifest.json")) as f:
                manifest = json.load(f)
            for name in list(manifest["files"]) + ["manifest.json"]:
                if name != "vocab.txt":
                    os.symlink(os.path.join(DEFAULT_DIR, name), os.path.join(tmp, name))
            with open(os.path.join(DEFAULT_DIR, "vocab.txt"), "rb") as f:
                vocab = bytearray(f.read())
            vocab[-2] ^= 1
            with open(os.path.join(tmp, "vocab.txt"), "wb") as f:
                f.write(vocab)
            with self.assertRaisesRegex(EncoderDirError, "vocab.txt does not match the sha256"):
                load_encoder(tmp)

    @unittest.skipUnless(BUILT, NOT_BUILT)
    def test_the_built_encoder_embeds_paraphrases_close(self):
        tok, enc = load_encoder()
        self.assertFalse(any(p.requires_grad for p in enc.parameters()))
        texts = ["make it brighter", "lighten it up", "flip it upside down"]
        ids, mask = (torch.tensor(a) for a in tok.encode_batch(texts))
        with torch.no_grad():
            states = enc(ids, mask)
            emb = enc.sentence_embedding(ids, mask)
        self.assertEqual(tuple(states.shape), (3, ids.shape[1], 384))
        self.assertEqual(tok.max_tokens, 64)
        self.assertGreater(float(emb[0] @ emb[1]), float(emb[0] @ emb[2]) + 0.1)


if __name__ == "__main__":
    unittest.main()
