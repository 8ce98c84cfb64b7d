import contextlib
import dataclasses
import io
import json
import os
import tempfile
import unittest

from mgie_train import checkpoint, config, stages
from mgie_train.__main__ import STAGES, TASKS, TRAINING, main, parser
from tests.test_models import write_scenes

HERE = os.path.dirname(os.path.abspath(__file__))
# What __main__.py's PLAN said before the plan moved into the config.
OLD_PLAN = {
    "vae": dict(steps=3000, batch=16),
    "vision": dict(steps=1800, batch=32, lr=1e-3),
    "mllm-see": dict(steps=1800, batch=32, lr=1e-3),
    "mllm-ins": dict(steps=2400, batch=32, lr=5e-4),
    "lm-ins": dict(steps=600, batch=32, lr=1e-3),
    "editor": dict(steps=2500, batch=32, lr=3e-4),
    "region": dict(steps=800, batch=64, lr=1e-3),
}


def old_layout(cfg: config.Config) -> dict:
    """`cfg` as config.json held it before the inference defaults and the plan were in the config."""
    d = cfg.to_json()
    inference, plan = d.pop("inference"), d.pop("plan")
    assert plan == OLD_PLAN
    d["diffusion"].update({("sample_steps" if k == "steps" else k): v for k, v in inference.items()})
    return d


class PlanTest(unittest.TestCase):
    def test_the_default_plan_is_the_one_main_had(self):
        self.assertEqual(config.default().plan.to_json(), OLD_PLAN)
        self.assertEqual(config.tiny().plan, config.default().plan)
        self.assertEqual(config.default().plan["mllm-see"], config.StagePlan(steps=1800, batch=32, lr=1e-3))

    def test_only_the_vae_goes_without_a_learning_rate(self):
        with self.assertRaisesRegex(config.ConfigError, "plan.vae.lr"):
            config.apply(config.default(), {"plan": {"vae": {"lr": 1e-3}}})
        with self.assertRaisesRegex(config.ConfigError, "'plan.editor.lr' must be float, not None"):
            config.apply(config.default(), {"plan": {"editor": {"lr": None}}})


class ConfigFileTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_a_json_file_overrides_any_part_of_the_base_config(self):
        path = self.write(
            "long.json",
            json.dumps(
                {
                    "plan": {"editor": {"steps": 5000}, "mllm-ins": {"lr": 1e-4}},
                    "inference": {"steps": 5},
                    "unet": {"channels": [8, 16]},
                }
            ),
        )
        cfg = config.load("tiny", path)
        self.assertEqual(cfg.plan["editor"], config.StagePlan(steps=5000, batch=32, lr=3e-4))
        self.assertEqual(cfg.plan["mllm-ins"].lr, 1e-4)
        self.assertEqual(cfg.inference.steps, 5)
        self.assertEqual(cfg.unet.channels, (8, 16))
        # Everything else is the base's.
        tiny = config.tiny()
        self.assertEqual(dataclasses.replace(cfg, plan=tiny.plan, inference=tiny.inference, unet=tiny.unet), tiny)

    def test_a_python_file_sets_the_same_keys_as_top_level_names(self):
        path = self.write(
            "long.py",
            "import math as _m\n_steps = 2500\nplan = {'editor': {'steps': 2 * _steps}}\nres = 32\n"
            "inference = dict(cfg_text=_m.sqrt(4))\n",
        )
        cfg = config.load("default", path)
        self.assertEqual((cfg.plan["editor"].steps, cfg.res, cfg.inference.cfg_text), (5000, 32, 2.0))

    def test_mistakes_name_the_key(self):
        for overrides, message in (
            ({"plan": {"editr": {"steps": 1}}}, r"unknown config key 'plan.editr' \(known here: vae, vision, mllm-see"),
            ({"unet": {"chanels": [1]}}, "unknown config key 'unet.chanels'"),
            ({"inference": {"steps": 2.5}}, "'inference.steps' must be int"),
            ({"unet": {"channels": 16}}, "'unet.channels' must be a list"),
            ({"diffusion": {"residual": 1}}, "'diffusion.residual' must be bool"),
            ({"mllm": 3}, "'mllm' must be an object"),
        ):
            with self.assertRaisesRegex(config.ConfigError, message):
                config.apply(config.default(), overrides)
        with self.assertRaisesRegex(config.ConfigError, "not valid JSON"):
            config.load("default", self.write("bad.json", "{plan: 1}"))

    def test_a_written_config_loads_back(self):
        for cfg in (config.default(), config.tiny(), config.apply(config.tiny(), {"plan": {"vision": {"steps": 7}}})):
            self.assertEqual(config.from_json(json.loads(config.dumps(cfg))), cfg)
            self.assertEqual(config.load("default", self.write("c.json", config.dumps(cfg))), cfg)


class OldLayoutTest(unittest.TestCase):
    """config.json files written before InferenceDefaults (sample_steps, cfg_text, ... in `diffusion`, no plan)."""

    def test_an_old_config_json_loads_with_its_inference_fields_moved(self):
        with open(os.path.join(HERE, "fixtures", "config-old-layout.json")) as f:
            old = json.load(f)
        self.assertIn("sample_steps", old["diffusion"])
        self.assertEqual(config.from_json(old), config.default())
        self.assertEqual(config.apply(config.tiny(), old_layout(config.tiny())), config.tiny())
        changed = old_layout(dataclasses.replace(config.tiny(), inference=config.InferenceDefaults(steps=9, cfg_text=2.0)))
        cfg = config.apply(config.default(), changed)
        self.assertEqual((cfg.inference.steps, cfg.inference.cfg_text, cfg.res), (9, 2.0, 32))

    def test_the_committed_runs_config_is_the_default_config(self):
        with open(os.path.join(HERE, "..", "runs", "default", "config.json")) as f:
            self.assertEqual(config.from_json(json.load(f)), config.default())


class DispatchTest(unittest.TestCase):
    def test_every_stage_the_command_line_takes_has_a_function(self):
        choices = next(a.choices for a in parser()._actions if a.dest == "stage")
        self.assertEqual(list(choices), list(STAGES))
        self.assertEqual(
            list(choices),
            [
                "tokenizer",
                "vae",
                "latents",
                "instructions",
                "vision",
                "mllm-see",
                "mllm-ins",
                "lm-ins",
                "editor",
                "region",
                "all",
                "eval",
                "eval-lm",
                "export",
                "bench",
            ],
        )

    def test_every_planned_stage_trains_and_all_runs_only_known_stages(self):
        self.assertLessEqual(set(config.TrainingPlan.stages()), set(TRAINING))
        self.assertEqual(set(TRAINING) - set(config.TrainingPlan.stages()), {"tokenizer", "latents", "instructions"})
        self.assertLessEqual({task.split()[0] for task in TASKS}, set(TRAINING))


class MainConfigFileTest(unittest.TestCase):
    def test_a_stage_trains_by_the_config_files_plan_and_writes_the_config_beside_its_checkpoints(self):
        with tempfile.TemporaryDirectory() as d:
            write_scenes(os.path.join(d, "data"), 8, 32)
            run_dir = os.path.join(d, "run")
            cfg_file = os.path.join(d, "short.json")
            with open(cfg_file, "w") as f:
                json.dump({"plan": {"vision": {"steps": 2, "batch": 4}}}, f)
            args = [
                "--config",
                "tiny",
                "--config-file",
                cfg_file,
                "--data",
                os.path.join(d, "data"),
                "--run",
                run_dir,
                "--threads",
                "1",
            ]
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(main(["vision", *args]), 0)
                self.assertEqual(checkpoint.load(stages.paths(run_dir)["vision"], {}, restore_rng=False)["step"], 2)
                # --steps overrides the plan's for this command; the written config keeps the file's plan.
                self.assertEqual(main(["vision", *args, "--steps", "3"]), 0)
                self.assertEqual(checkpoint.load(stages.paths(run_dir)["vision"], {}, restore_rng=False)["step"], 3)
            with open(os.path.join(run_dir, "config.json")) as f:
                written = config.from_json(json.load(f))
            self.assertEqual(written, config.load("tiny", cfg_file))
            self.assertEqual(written.plan["vision"], config.StagePlan(steps=2, batch=4, lr=1e-3))

    def test_a_bad_config_file_is_one_line_and_status_1(self):
        with tempfile.TemporaryDirectory() as d:
            cfg_file = os.path.join(d, "bad.json")
            with open(cfg_file, "w") as f:
                json.dump({"plan": {"editor": {"step": 2}}}, f)
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                status = main(["vision", "--config-file", cfg_file, "--data", d, "--run", os.path.join(d, "run")])
            self.assertEqual(status, 1)
            self.assertIn("unknown config key 'plan.editor.step'", err.getvalue())


if __name__ == "__main__":
    unittest.main()
