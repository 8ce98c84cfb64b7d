import contextlib
import copy
import dataclasses
import io
import json
import os
import tempfile
import unittest

from mgie_train import checkpoint, config, export, stages
from mgie_train.models.vae import VAE
from mgie_train.tokenizer import Tokenizer

CFG = config.tiny()


def write_untrained_run(run_dir: str, cfg: config.Config, variant: str) -> None:
    """The checkpoints exporting `variant` reads, with freshly initialised weights (and its region head)."""
    p = stages.paths(run_dir)
    os.makedirs(run_dir)
    tok = Tokenizer.train(["make the red circle blue", "describe the image"], cfg.mllm.merges, cfg.mllm.num_img_tokens)
    tok.save(p["tokenizer"])
    checkpoint.save(p["vae"], {"vae": VAE(cfg.vae)}, None, 1)
    with open(p["vae_info"], "w") as f:
        json.dump({"scale": 1.0}, f)
    models = stages.editor_models(cfg, variant, tok)
    if variant in stages.LM_INIT:
        checkpoint.save(p[stages.LM_INIT[variant][0]], stages.lm_start(models, variant), None, 1)
    checkpoint.save(p[f"editor-{variant}"], stages.saved_modules(models, variant), None, 1)
    if variant in stages.SEEING:
        checkpoint.save(p[f"region-{variant}"], {"region_head": stages.region_head(cfg, variant)}, None, 1)


class ExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        run_dir = os.path.join(cls.dir.name, "run")
        write_untrained_run(run_dir, CFG, "mgie-e2e")
        cls.out = os.path.join(cls.dir.name, "model")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            cls.manifest = export.export(CFG, run_dir, "mgie-e2e", cls.out, training={"config": "tiny"})

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_the_manifest_written_is_the_one_returned_and_fits_the_schema(self):
        with open(os.path.join(self.out, "manifest.json")) as f:
            written = json.load(f)
        self.assertEqual(written, json.loads(json.dumps(self.manifest)))
        export.validate_manifest(written)
        self.assertEqual(
            list(written["components"]),
            [
                "vae_encoder",
                "vae_decoder",
                "unet",
                "prefix",
                "embed",
                "instruction",
                "lm",
                "edit_head",
                "region_head",
                "orientation_head",
            ],
        )

    def test_the_orientation_head_is_the_unets_softmax_cut_out_of_it(self):
        import onnx

        head = onnx.load(os.path.join(self.out, "orientation_head.onnx"))
        self.assertEqual([i.name for i in head.graph.input], ["context"])
        self.assertEqual([o.name for o in head.graph.output], ["orientation"])
        self.assertEqual(head.graph.node[-1].op_type, "Softmax")
        self.assertEqual(self.manifest["components"]["orientation_head"]["outputs"], ["orientation"])

    def test_the_manifest_copies_the_inference_defaults(self):
        d = self.manifest["diffusion"]
        self.assertEqual(
            {k: d[k] for k in ("residual_decode", "change_threshold", "region_threshold", "steps", "cfg_text", "cfg_image")},
            dataclasses.asdict(CFG.inference),
        )
        self.assertEqual(
            (d["train_steps"], d["beta_start"], d["prediction"]), (CFG.diffusion.train_steps, CFG.diffusion.beta_start, "sample")
        )
        # Without a region head the model keeps every change.
        self.assertEqual(export.diffusion_block(CFG, region_head=False)["region_threshold"], 0.0)

    def test_a_broken_manifest_is_refused_naming_the_field(self):
        broken = copy.deepcopy(self.manifest)
        broken["diffusion"]["steps"] = 0
        with self.assertRaisesRegex(export.ManifestError, r"at diffusion\.steps: 0 is less than the minimum"):
            export.validate_manifest(broken)
        broken = copy.deepcopy(self.manifest)
        broken["components"]["unet"]["sha256"] = "not a hash"
        with self.assertRaisesRegex(export.ManifestError, r"at components\.unet\.sha256"):
            export.validate_manifest(broken)
        del broken["condition"]
        with self.assertRaisesRegex(export.ManifestError, "'condition' is a required property"):
            export.validate_manifest(broken)

    def test_without_the_schema_it_says_where_it_looked(self):
        with self.assertRaisesRegex(export.ManifestError, "cannot read the manifest schema .*nowhere.json"):
            export.validate_manifest(self.manifest, os.path.join(self.dir.name, "nowhere.json"))

    def test_the_components_of_each_variant(self):
        base = ["vae_encoder", "vae_decoder", "unet"]
        self.assertEqual(export.components("inspix2pix", False, False), base + ["text_encoder"])
        lm = ["embed", "instruction", "lm", "edit_head"]
        self.assertEqual(export.components("lgie", False, False), base + lm)
        self.assertEqual(export.components("mgie-fz", True, False), base + ["prefix", *lm])
        self.assertEqual(export.components("mgie-e2e", True, True), base + ["prefix", *lm, "region_head"])


if __name__ == "__main__":
    unittest.main()
