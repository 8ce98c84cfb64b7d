import unittest

from mgie_train.tokenizer import PROMPT, Tokenizer

CORPUS = ["make it brighter", "make the small red circle blue", "remove the large blue star", PROMPT + "fix the lighting"] * 5


class TokenizerTest(unittest.TestCase):
    def setUp(self):
        self.tok = Tokenizer.train(CORPUS, 40, 8)

    def test_round_trips_any_text(self):
        for text in ["make it brighter", "Ünïcødé wörds 🎨 and 日本語", "", "   spaces   ", "x" * 500, "tab\tnew\nline"]:
            self.assertEqual(self.tok.decode(self.tok.encode(text)), text)

    def test_merges_compress_known_words_and_fall_back_to_bytes(self):
        self.assertLess(len(self.tok.encode("make the small red circle")), len("make the small red circle".encode()))
        self.assertEqual(self.tok.encode("qzx"), list(b"qzx"))

    def test_special_ids_follow_the_merges(self):
        t = self.tok
        self.assertEqual(t.bos, 256 + len(t.merges))
        self.assertEqual([t.eos, t.pad, t.sep, t.img0], [t.bos + 1, t.bos + 2, t.bos + 3, t.bos + 4])
        self.assertEqual(t.vocab_size, t.img0 + 8)
        self.assertEqual(t.target_ids("add a blue tint")[-9:], t.img_tokens() + [t.eos])
        self.assertEqual(t.prompt_ids("  fix it ")[-1], t.sep)

    def test_training_is_deterministic_and_json_round_trips(self):
        again = Tokenizer.train(CORPUS, 40, 8)
        self.assertEqual(again.merges, self.tok.merges)
        back = Tokenizer.from_json(self.tok.to_json())
        self.assertEqual(back.encode("remove the large red circle"), self.tok.encode("remove the large red circle"))

    def test_rejects_a_foreign_or_malformed_file(self):
        with self.assertRaises(ValueError):
            Tokenizer.from_json({"format": "something-else"})
        bad = self.tok.to_json()
        bad["merges"] = [[1, 9999]]
        with self.assertRaises(ValueError):
            Tokenizer.from_json(bad)


if __name__ == "__main__":
    unittest.main()
