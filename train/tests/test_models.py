import contextlib
import dataclasses
import io
import json
import math
import os
import tempfile
import unittest

import numpy as np
import torch

from mgie_train import checkpoint, config, precision, stages
from mgie_train.diffusion import (
    Schedule,
    decode_edit,
    dual_guidance,
    euler_ancestral_timesteps,
    guided_eps,
    keep_inside_region,
    keep_significant_changes,
    sample_ddim,
)
from mgie_train.data import DataFormatError, SynthEditData, object_grid, orientation_labels, shared_looks_grid
from mgie_train.models.edit_head import EditHead
from mgie_train.models.mllm import MLLM, InstructionProjector, build_batch, generate, img_hidden, instruction_prompt
from mgie_train.models.object_head import ObjectHead
from mgie_train.models.region_head import RegionHead, RegionHeadExport, cell_labels
from mgie_train.models.shared_looks_head import SharedLooksHead
from mgie_train.models.unet import OrientationMix, UNet, orientations
from mgie_train.models.layers import GroupNorm, LayerNorm
from mgie_train.models.vae import VAE
from mgie_train.tokenizer import Tokenizer
from mgie_train.train_loop import batch_indices, run

CFG = config.tiny()
TOK = Tokenizer.train(["make it brighter", "remove the red circle"], 10, CFG.mllm.num_img_tokens)


class MLLMTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.m = MLLM(CFG.mllm, CFG.res, TOK).eval()
        self.proj = InstructionProjector(CFG.mllm.instruction_dim, CFG.mllm.dim).eval()
        # Stand-in MiniLM states of a 5-token instruction ([CLS] … [SEP]).
        self.states = torch.randn(5, CFG.mllm.instruction_dim)

    def test_the_instruction_enters_as_its_projected_states_between_the_prompt_and_sep(self):
        with torch.no_grad():
            p = instruction_prompt(self.m, self.proj, self.states)
            n = len(TOK.encode("what will this image be like if "))
            self.assertEqual(tuple(p.shape), (n + 5 + 1, CFG.mllm.dim))
            torch.testing.assert_close(p[n : n + 5], self.proj(self.states))
            torch.testing.assert_close(p[-1], self.m.embed(torch.tensor(TOK.sep)))

    def test_kv_cache_gives_the_same_outputs_as_a_full_pass(self):
        img = torch.rand(1, 3, CFG.res, CFG.res) * 2 - 1
        with torch.no_grad():
            prompt = torch.cat(
                [instruction_prompt(self.m, self.proj, self.states), self.m.embed(torch.tensor(TOK.encode("brighten")))]
            )
        embeds = torch.cat([self.m.prefix(img, 1), prompt[None]], dim=1)
        full_logits, full_hidden = self.m(embeds)
        k, v = self.m.empty_cache(1)
        split = embeds.shape[1] - 3
        l1, h1, k, v = self.m.forward_cached(embeds[:, :split], k, v)
        parts_l, parts_h = [l1], [h1]
        for j in range(split, embeds.shape[1]):
            lj, hj, k, v = self.m.forward_cached(embeds[:, j : j + 1], k, v)
            parts_l.append(lj)
            parts_h.append(hj)
        torch.testing.assert_close(torch.cat(parts_l, 1), full_logits, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(torch.cat(parts_h, 1), full_hidden, atol=1e-5, rtol=1e-4)
        self.assertEqual(k.shape[3], embeds.shape[1])

    def test_img_hidden_takes_the_positions_that_predict_the_img_tokens(self):
        p = [instruction_prompt(self.m, self.proj, self.states)]
        t = [TOK.target_ids("brighten it")]
        embeds, labels, starts = build_batch(self.m, self.m.prefix(torch.zeros(1, 3, CFG.res, CFG.res), 1), p, t)
        e = len(TOK.encode("brighten it"))
        _, hidden = self.m(embeds)
        h = img_hidden(hidden, starts, [e], CFG.mllm.num_img_tokens)
        first = starts[0] + e  # where IMG0 sits
        self.assertEqual(int(labels[0, first - 1]), TOK.img0)
        torch.testing.assert_close(h[0, 0], hidden[0, first - 1])
        self.assertEqual(h.shape, (1, CFG.mllm.num_img_tokens, CFG.mllm.dim))

    def test_generate_stops_at_the_cap_and_returns_n_states(self):
        g = generate(self.m, self.proj, torch.zeros(1, 3, CFG.res, CFG.res), self.states)
        self.assertLessEqual(len(g.ids), CFG.mllm.max_new_tokens)
        self.assertNotIn(TOK.img0, g.ids)
        self.assertEqual(g.states.shape, (CFG.mllm.num_img_tokens, CFG.mllm.dim))


def fit_head(head: torch.nn.Module, labels, steps: int = 30) -> tuple[float, float]:
    """Trains a fresh tiny MLLM's vision tower and a dense head on one batch of two random images, whose
    labels are `labels(grid)`; the first and the last loss."""
    torch.manual_seed(0)
    m = MLLM(CFG.mllm, CFG.res, TOK)
    img = torch.rand(2, 3, CFG.res, CFG.res) * 2 - 1
    lab = labels(m.vision.grid)
    opt = torch.optim.Adam(list(m.vision.parameters()) + list(head.parameters()), 1e-2)
    losses = []
    for _ in range(steps):
        loss = head.loss(m.vision.cells(img), lab)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return losses[0], losses[-1]


class EditHeadTest(unittest.TestCase):
    def test_a_seeing_edit_head_adds_one_row_per_image_cell_that_knows_its_position(self):
        torch.manual_seed(0)
        m = MLLM(CFG.mllm, CFG.res, TOK).eval()
        head = EditHead(CFG.edit_head, CFG.mllm.dim, grid=CFG.image_grid).eval()
        cells = CFG.image_grid**2
        self.assertEqual(cells, m.num_prefix - 1)
        n, d = CFG.mllm.num_img_tokens, CFG.mllm.dim
        with torch.no_grad():
            u = head(torch.randn(2, n, d), m.img_embeddings(), torch.randn(2, cells, d))
            # The same feature in every cell: the rows still differ, by position alone.
            same = head(torch.randn(1, n, d), m.img_embeddings(), torch.ones(1, cells, d))[0, CFG.edit_head.queries :]
        self.assertEqual(tuple(u.shape), (2, head.length, CFG.edit_head.context_dim))
        self.assertEqual(head.length, CFG.edit_head.queries + cells)
        self.assertGreater(float((same[0] - same[1:]).abs().amax(dim=1).min()), 1e-4)
        with self.assertRaises(ValueError):
            head(torch.randn(1, n, d), m.img_embeddings())

    def test_only_the_variants_that_see_the_image_read_its_cells(self):
        side = CFG.image_grid
        for variant, grid in (("lgie", 0), ("mgie-fz", side), ("mgie-ft", side), ("mgie-e2e", side)):
            models = stages.editor_models(CFG, variant, TOK)
            self.assertEqual(models["edit_head"].grid, grid, variant)
            self.assertEqual(models["unet"].grid, grid, variant)
            null = stages.null_condition(models["mllm"], models["edit_head"])
            self.assertEqual(tuple(null.shape), (1, models["edit_head"].length, CFG.edit_head.context_dim))


class RegionHeadTest(unittest.TestCase):
    def test_a_cell_is_in_the_region_when_any_of_its_pixels_may_change(self):
        masks = torch.zeros(2, 8, 8)
        masks[0, 0, 3] = 1  # one pixel of the top-left cell of a 2 x 2 grid
        masks[0, 7, 7] = 1
        masks[1] = 1  # a global edit
        torch.testing.assert_close(cell_labels(masks, 2), torch.tensor([[1.0, 0, 0, 1], [1, 1, 1, 1]]))

    def test_the_head_reads_the_per_cell_rows_and_learns_the_region(self):
        torch.manual_seed(0)
        g, ctx = CFG.image_grid, CFG.edit_head.context_dim
        head = RegionHead(CFG.region_head, ctx, g)
        # Cells whose row says "changes" (a + feature) are in the region; the learned queries' rows are noise.
        u = torch.randn(16, CFG.edit_head.queries + g * g, ctx)
        on = torch.rand(16, g * g) < 0.3
        u[:, CFG.edit_head.queries :, 0] = on.float() * 4 - 2
        masks = on.float().reshape(16, 1, g, 1, g).expand(16, CFG.res // g, g, CFG.res // g, g)
        masks = masks.permute(0, 2, 1, 4, 3).reshape(16, CFG.res, CFG.res)
        torch.testing.assert_close(cell_labels(masks, g), on.float())
        opt = torch.optim.Adam(head.parameters(), 1e-2)
        first = None
        for _ in range(60):
            loss, acc = head.loss(u, masks)
            first = first if first is not None else loss.item()
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.assertLess(loss.item(), first * 0.2)
        self.assertGreater(acc, 0.97)
        region = RegionHeadExport(head.eval(), CFG.res)(u)
        self.assertEqual(tuple(region.shape), (16, 1, CFG.res, CFG.res))
        self.assertGreaterEqual(float(region.min()), 0.0)
        self.assertLessEqual(float(region.max()), 1.0)

    def test_only_a_seeing_editor_has_one(self):
        with self.assertRaises(ValueError):
            stages.region_head(CFG, "lgie")
        with self.assertRaises(ValueError):
            RegionHead(CFG.region_head, CFG.edit_head.context_dim, 0)

    def test_the_input_is_kept_outside_the_region(self):
        image = torch.zeros(1, 3, 1, 4)
        out = torch.full((1, 3, 1, 4), 0.5)
        region = torch.tensor([[[[0.1, 0.375, 0.5, 0.9]]]])  # below the threshold, halfway up the ramp, at twice it, above
        kept = keep_inside_region(out, image, region, 0.25)
        torch.testing.assert_close(kept, torch.tensor([0.0, 0.25, 0.5, 0.5]).expand(1, 3, 1, 4))
        torch.testing.assert_close(keep_inside_region(out, image, region, 0.0), out)

        def decode(lat):
            return lat[:, :3].repeat(1, 1, 1, 1)

        z = torch.full((1, 4, 1, 4), 0.5)
        torch.testing.assert_close(decode_edit(decode, z, torch.zeros_like(z), image, False, 0.0, region, 0.25), kept)


class ObjectHeadTest(unittest.TestCase):
    SCENE = {
        "id": "x",
        "source": {
            "type": "scene",
            "objects": [
                {"shape": "star", "color": "blue", "size": "large", "cx": 16.0, "cy": 4.0, "r": 12.0},
                {"shape": "circle", "color": "red", "size": "small", "cx": 31.9, "cy": 31.9, "r": 2.0},
            ],
        },
    }

    def test_labels_mark_the_cells_an_object_covers_and_its_centre_cell(self):
        lab = object_grid([self.SCENE, {"source": {"type": "photo"}}], 32, 4)  # 8 px cells, centres at 4, 12, 20, 28
        self.assertEqual(lab.shape, (2, 3, 16))
        star = [5, 4, 2]  # blue (index 4) star (3) large (1), each +1
        # Cell centres within 0.8 * 12 = 9.6 px of (16, 4): (12, 4), (20, 4), (12, 12), (20, 12).
        self.assertEqual([j for j in range(16) if lab[0, :, j].tolist() == star], [1, 2, 5, 6])
        self.assertEqual(
            lab[0, :, 3 * 4 + 3].tolist(), [1, 1, 1]
        )  # red circle small: too small to cover a centre, so its own cell
        self.assertEqual(int((lab[0].sum(0) > 0).sum()), 5)
        self.assertEqual(int(lab[1].abs().sum()), 0)  # a photo has no objects

    def test_a_later_object_overwrites_an_earlier_one(self):
        top = {"shape": "square", "color": "white", "size": "small", "cx": 12.0, "cy": 4.0, "r": 3.0}
        scene = {"id": "z", "source": {"type": "scene", "objects": [*self.SCENE["source"]["objects"], top]}}
        lab = object_grid([scene], 32, 4)
        self.assertEqual(lab[0, :, 1].tolist(), [8, 2, 1])
        self.assertEqual(lab[0, :, 2].tolist(), [5, 4, 2])

    def test_an_unknown_colour_is_an_error(self):
        bad = {"id": "y", "source": {"type": "scene", "objects": [{**self.SCENE["source"]["objects"][0], "color": "teal"}]}}
        with self.assertRaisesRegex(DataFormatError, "teal"):
            object_grid([bad], 32, 4)

    def test_the_vision_cells_pooled_are_the_image_tokens(self):
        torch.manual_seed(0)
        m = MLLM(CFG.mllm, CFG.res, TOK)
        img = torch.rand(2, 3, CFG.res, CFG.res) * 2 - 1
        torch.testing.assert_close(m.vision.pooled(m.vision.cells(img)), m.vision(img))

    def test_the_head_learns_the_labels_from_the_vision_cells(self):
        rows = [self.SCENE, {"source": {"type": "photo"}}]
        first, last = fit_head(ObjectHead(CFG.mllm.vision_dim), lambda grid: object_grid(rows, CFG.res, grid))
        self.assertLess(last, first / 5)


class SharedLooksTest(unittest.TestCase):
    # A red star, a red circle and a blue circle: the blue circle is the odd one out in colour, the star in shape.
    OBJECTS = [
        {"shape": "star", "color": "red", "size": "small", "cx": 4.0, "cy": 4.0, "r": 3.0},
        {"shape": "circle", "color": "red", "size": "small", "cx": 12.0, "cy": 4.0, "r": 3.0},
        {"shape": "circle", "color": "blue", "size": "small", "cx": 28.0, "cy": 28.0, "r": 3.0},
    ]
    ROWS = [{"source": {"type": "scene", "objects": OBJECTS}}, {"source": {"type": "photo"}}]

    def test_each_objects_cells_count_the_objects_that_share_its_colour_and_shape(self):
        lab = shared_looks_grid(self.ROWS, 32, 4)  # 8 px cells
        self.assertEqual(lab.shape, (2, 2, 16))
        self.assertEqual(lab[0, :, 0].tolist(), [2, 1])  # red star: two red objects, the only star
        self.assertEqual(lab[0, :, 1].tolist(), [2, 2])  # red circle
        self.assertEqual(lab[0, :, 15].tolist(), [1, 2])  # blue circle: the only blue one
        self.assertEqual(int((lab[0].sum(0) > 0).sum()), 3)
        self.assertEqual(int(lab[1].sum()), 0)

    def test_more_objects_than_a_scene_holds_is_an_error(self):
        crowded = {"id": "c", "source": {"type": "scene", "objects": self.OBJECTS * 2}}
        with self.assertRaisesRegex(DataFormatError, "6 objects"):
            shared_looks_grid([crowded], 32, 4)

    def test_the_head_learns_the_counts_from_the_vision_cells(self):
        first, last = fit_head(SharedLooksHead(CFG.mllm.vision_dim), lambda grid: shared_looks_grid(self.ROWS, CFG.res, grid))
        self.assertLess(last, first / 5)


def write_scenes(root: str, count: int, res: int) -> SynthEditData:
    """A SynthEdit dataset folder of `count` random images, each labelled a scene of one small red circle."""
    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(root, "shards"))
    for part, shape in (("input", (count, res, res, 3)), ("target", (count, res, res, 3)), ("mask", (count, res, res))):
        np.save(os.path.join(root, "shards", f"00000-{part}.npy"), rng.integers(0, 256, shape, dtype=np.uint8))
    circle = {"shape": "circle", "color": "red", "size": "small", "cx": 10.0, "cy": 12.0, "r": 3.0}
    with open(os.path.join(root, "index.jsonl"), "w") as f:
        for i in range(count):
            f.write(
                json.dumps(
                    {
                        "id": str(i),
                        "shard": "00000",
                        "row": i,
                        "instruction": "make it red",
                        "expressive": "make it red",
                        "source": {"type": "scene", "objects": [circle]},
                    }
                )
                + "\n"
            )
    with open(os.path.join(root, "dataset.json"), "w") as f:
        json.dump({"format": "synthedit-dataset-1", "count": count, "res": res, "shards": [{"name": "00000", "count": count}]}, f)
    return SynthEditData(root)


class VisionStageTest(unittest.TestCase):
    def test_seeing_starts_from_the_pretrained_tower_and_its_head(self):
        with tempfile.TemporaryDirectory() as d:
            data = write_scenes(os.path.join(d, "data"), 8, CFG.res)
            run_dir = os.path.join(d, "run")
            os.makedirs(run_dir)
            stages.train_tokenizer(CFG, data, run_dir)
            self.assertTrue(stages.train_vision(CFG, data, run_dir, 2, 4, 1e-2, 0, None))
            tower, head = stages.VisionEncoder(CFG.mllm, CFG.res), stages.ObjectHead(CFG.mllm.vision_dim)
            checkpoint.load(stages.paths(run_dir)["vision"], {"vision": tower, "object_head": head})
            # At learning rate 0 seeing's one step leaves the weights where they started.
            self.assertTrue(stages.train_lm(CFG, data, run_dir, "mllm-see", "see", True, "vision", 1, 4, 0.0, 0, None))
            m, seen_head = stages.MLLM(CFG.mllm, CFG.res, stages.load_tokenizer(run_dir)), stages.ObjectHead(CFG.mllm.vision_dim)
            checkpoint.load(stages.paths(run_dir)["mllm-see"], {"mllm": m, "object_head": seen_head})
            for a, b in ((tower, m.vision), (head, seen_head)):
                for (k, x), y in zip(a.state_dict().items(), b.state_dict().values()):
                    torch.testing.assert_close(x, y, msg=k)

    def test_seeing_without_the_vision_stage_says_which_stage_to_run(self):
        from mgie_train.__main__ import main

        with tempfile.TemporaryDirectory() as d:
            write_scenes(os.path.join(d, "data"), 4, CFG.res)
            run_dir = os.path.join(d, "run")
            args = [
                "--config",
                "tiny",
                "--data",
                os.path.join(d, "data"),
                "--run",
                run_dir,
                "--threads",
                "1",
                "--steps",
                "1",
                "--batch",
                "2",
            ]
            self.assertEqual(main(["tokenizer", *args]), 0)
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                self.assertEqual(main(["mllm-see", *args]), 1)
            self.assertIn("run the 'vision' stage first", err.getvalue())

    def test_object_accuracy_counts_the_cells_objects_cover(self):
        with tempfile.TemporaryDirectory() as d:
            data = write_scenes(os.path.join(d, "data"), 4, CFG.res)
            head = stages.ObjectHead(CFG.mllm.vision_dim)
            # A head that always answers red, circle, small: right in every covered cell.
            with torch.no_grad():
                head.out.weight.zero_()
                head.out.bias.zero_()
                for offset, cls in zip((0, head.sizes[0], head.sizes[0] + head.sizes[1]), (1, 1, 1)):
                    head.out.bias[offset + cls] = 1.0
            acc = stages.object_accuracy(CFG, stages.VisionEncoder(CFG.mllm, CFG.res), head, data)
            self.assertEqual(acc, {"colour": 1.0, "shape": 1.0, "size": 1.0, "small shape": 1.0})


class DiffusionTest(unittest.TestCase):
    def test_scaled_linear_schedule(self):
        s = Schedule(CFG.diffusion)
        b0 = CFG.diffusion.beta_start
        self.assertAlmostEqual(float(s.alphas_cumprod[0]), 1 - b0, places=12)
        b1 = (math.sqrt(b0) + (math.sqrt(CFG.diffusion.beta_end) - math.sqrt(b0)) / 999) ** 2
        self.assertAlmostEqual(float(s.alphas_cumprod[1]), (1 - b0) * (1 - b1), places=12)

    def test_oriented_base_takes_the_change_from_the_turned_input(self):
        z_in, z_tgt = torch.randn(3, 4, 8, 8), torch.randn(3, 4, 8, 8)
        labels = torch.tensor([0, 1, 5])
        turned = dataclasses.replace(CFG.diffusion, oriented_base="turned-latent")
        torch.testing.assert_close(stages.oriented_base(turned, z_in, z_tgt, labels)[2], orientations(z_in[2:3])[5][0])
        # "encoded": a flip's or a rotation's target is the turned input, so its latent is the base
        # (the change to learn is zero); an edit that turns nothing keeps the input's latent.
        encoded = dataclasses.replace(CFG.diffusion, oriented_base="encoded")
        base = stages.oriented_base(encoded, z_in, z_tgt, labels)
        torch.testing.assert_close(base[0], z_in[0])
        torch.testing.assert_close(base[1:], z_tgt[1:])
        with self.assertRaisesRegex(ValueError, "oriented_base 'sideways'"):
            stages.oriented_base(dataclasses.replace(CFG.diffusion, oriented_base="sideways"), z_in, z_tgt, labels)

    def test_guidance_with_unit_scales_is_the_conditional_prediction(self):
        eps = torch.randn(6, 4, 2, 2)
        torch.testing.assert_close(dual_guidance(eps, 1.0, 1.0), eps[:2])

    def test_one_pass_at_unit_scales_equals_the_three_pass_guidance(self):
        torch.manual_seed(0)
        unet = UNet(CFG.unet, 4, 32).eval()
        s = Schedule(CFG.diffusion)
        x, z = torch.randn(2, 4, 4, 4), torch.randn(2, 4, 4, 4)
        cond, null = torch.randn(2, 3, 32), torch.randn(1, 3, 32)
        with torch.no_grad():
            one = guided_eps(unet, s, x, 500.0, 0.3, z, cond, null, 1.0, 1.0)
            lat = torch.cat([torch.cat([x, z], 1), torch.cat([x, z], 1), torch.cat([x, torch.zeros_like(z)], 1)])
            three = unet(lat, torch.full((6,), 500.0), torch.cat([cond, null.expand(2, -1, -1), null.expand(2, -1, -1)]))
            want = s.to_eps(dual_guidance(three, 1.0, 1.0), x, 0.3)
        torch.testing.assert_close(one, want, atol=1e-5, rtol=1e-5)

    def test_residual_decoding_keeps_the_input_where_the_latent_is_unchanged(self):
        image = torch.rand(1, 3, 8, 8) * 2 - 1

        def decode(lat):  # any decoder
            return lat.repeat(1, 1, 2, 2)[:, :3] * 0.5

        z_img = torch.randn(1, 4, 4, 4)
        torch.testing.assert_close(decode_edit(decode, z_img, z_img, image, True, 0.0, None, 0.0), image)
        z_edit = z_img.clone()
        z_edit[:, :, 0, 0] += 0.2
        out = decode_edit(decode, z_edit, z_img, image, True, 0.0, None, 0.0)
        torch.testing.assert_close(out - image, (decode(z_edit) - decode(z_img)).clamp(-1 - image, 1 - image))
        torch.testing.assert_close(decode_edit(decode, z_edit, z_img, image, False, 0.0, None, 0.0), decode(z_edit).clamp(-1, 1))

    def test_small_changes_are_dropped_and_large_ones_kept(self):
        image = torch.zeros(1, 3, 1, 4)
        # Largest change per pixel, in [0, 1] units: 0.01, 0.03 (halfway up the ramp), 0.05 and, in one channel only, 0.05.
        out = torch.tensor([[[[0.02, 0.06, 0.1, 0.1]], [[0.02, 0.06, 0.1, 0.0]], [[-0.02, -0.06, -0.1, 0.0]]]])
        kept = keep_significant_changes(out, image, 0.02)
        torch.testing.assert_close(kept[..., 0], torch.zeros(1, 3, 1))
        torch.testing.assert_close(kept[..., 1], out[..., 1] * 0.5)
        torch.testing.assert_close(kept[..., 2:], out[..., 2:])
        torch.testing.assert_close(keep_significant_changes(out, image, 0.0), out)

    def test_unet_sees_the_instruction_and_the_position(self):
        torch.manual_seed(0)
        unet = UNet(CFG.unet, 4, 32).eval()
        lat, t = torch.randn(1, 8, 4, 4), torch.tensor([500.0])
        with torch.no_grad():
            a = unet(lat, t, torch.randn(1, 3, 32))
            b = unet(lat, t, torch.randn(1, 3, 32))
            # A mirrored input gives more than the mirrored output: position is known to the UNet.
            m = unet(lat.flip(-1), t, torch.zeros(1, 3, 32)).flip(-1)
            n = unet(lat, t, torch.zeros(1, 3, 32))
        self.assertGreater(float((a - b).abs().max()), 1e-4)
        self.assertGreater(float((m - n).abs().max()), 1e-4)

    def test_the_eight_orientations_are_the_symmetries_of_the_square(self):
        x = torch.randn(2, 3, 5, 5)
        views = orientations(x)
        want = [
            x,
            x.flip(3),
            x.flip(2),
            torch.rot90(x, 2, (2, 3)),
            x.transpose(2, 3),
            torch.rot90(x, -1, (2, 3)),
            torch.rot90(x, 1, (2, 3)),
            torch.rot90(x.transpose(2, 3), 2, (2, 3)),
        ]
        for got, w in zip(views, want):
            torch.testing.assert_close(got, w)
        self.assertEqual(len({tuple(v.flatten().tolist()) for v in views}), 8)

    def test_orientation_mix_weighs_the_views_by_the_softmax_of_its_logits(self):
        torch.manual_seed(0)
        mix = OrientationMix(6)
        z = torch.randn(2, 4, 6, 6)
        torch.testing.assert_close(mix(z, torch.zeros(2, 8)), torch.stack(orientations(z)).mean(dim=0))
        flip = torch.tensor([[0.0, 50, 0, 0, 0, 0, 0, 0]]).expand(2, 8)  # all weight on the left-right flip
        torch.testing.assert_close(mix(z, flip), z.flip(3))
        with self.assertRaisesRegex(ValueError, "square"):
            mix(torch.randn(1, 4, 6, 4), torch.zeros(1, 8))

    def test_the_orientation_is_chosen_from_the_learned_query_rows_alone(self):
        torch.manual_seed(0)
        side = CFG.image_grid
        unet = UNet(CFG.unet, 4, 32, grid=side).eval()
        self.assertTrue(
            torch.equal(unet.orientation_logits(torch.randn(2, 5 + side * side, 32)), torch.zeros(2, 8))
        )  # starts even
        with torch.no_grad():
            unet.orientation.logits.weight.normal_()
        queries, cells = torch.randn(2, 5, 32), torch.randn(2, side * side, 32)
        chosen = unet.orientation_logits(torch.cat([queries, cells], dim=1))
        torch.testing.assert_close(unet.orientation_logits(torch.cat([queries, cells.flip(1) * 3], dim=1)), chosen)
        torch.testing.assert_close(chosen, unet.orientation.logits(queries.mean(dim=1)))

    def test_orientation_labels_name_the_view_that_is_the_target(self):
        x = torch.randn(1, 3, 6, 6)
        views = orientations(x)
        targets = {
            "flip-horizontal": x.flip(3),
            "flip-vertical": x.flip(2),
            "rotate-180": torch.rot90(x, 2, (2, 3)),
            # SynthEdit's rotate-90 is clockwise as seen on screen (rows run downwards).
            "rotate-90": torch.rot90(x, -1, (2, 3)),
            "rotate-270": torch.rot90(x, 1, (2, 3)),
        }
        rows = [{"kind": "photoshop", "op": op} for op in targets]
        for label, want in zip(orientation_labels(rows).tolist(), targets.values()):
            torch.testing.assert_close(views[label], want)
        others = [
            {"kind": "photoshop", "op": "invert"},
            {"kind": "local", "op": "move"},
            {"kind": "global", "op": "day-to-night"},
        ]
        self.assertEqual(orientation_labels(others).tolist(), [0, 0, 0])

    def test_the_unet_can_do_without_orientations(self):
        plain = UNet(dataclasses.replace(CFG.unet, orientations=False), 4, 32)
        self.assertIsNone(plain.orientation)
        self.assertEqual(plain.conv_in.in_channels, 8)
        self.assertEqual(UNet(CFG.unet, 4, 32).conv_in.in_channels, 12)

    def test_a_seeing_unet_reads_the_per_cell_rows_as_a_map(self):
        torch.manual_seed(0)
        side = CFG.image_grid
        unet = UNet(CFG.unet, 4, 32, grid=side).eval()
        lat, t = torch.randn(1, 8, CFG.latent_res, CFG.latent_res), torch.tensor([500.0])
        ctx = torch.randn(1, 3 + side * side, 32)
        moved = ctx.clone()
        moved[0, -1] += 1.0  # the last cell's row only
        with torch.no_grad():
            a, b = unet(lat, t, ctx), unet(lat, t, moved)
            changed = (unet.cells_as_map(ctx, CFG.latent_res) - unet.cells_as_map(moved, CFG.latent_res)).abs().amax(
                dim=(0, 1)
            ) > 0
        self.assertEqual(unet.conv_in.in_channels, 8 + 4 + CFG.unet.cell_map_channels)
        self.assertGreater(float((a - b).abs().max()), 1e-4)
        # The last row is the bottom-right cell: only its block of the map changes.
        block = CFG.latent_res // side
        want = torch.zeros(CFG.latent_res, CFG.latent_res, dtype=torch.bool)
        want[-block:, -block:] = True
        self.assertTrue(torch.equal(changed, want))

    def test_euler_sigmas_run_from_large_to_zero(self):
        ts, sig = euler_ancestral_timesteps(Schedule(CFG.diffusion), 10)
        self.assertEqual(float(ts[0]), 999.0)
        self.assertEqual(float(ts[-1]), 0.0)
        self.assertTrue(bool((sig[:-1] > sig[1:]).all()))
        self.assertEqual(float(sig[-1]), 0.0)

    def test_ddim_with_an_oracle_denoiser_recovers_the_clean_latent(self):
        image_latent = torch.randn(1, 4, 2, 2)
        for prediction in ("epsilon", "v", "sample"):
            for residual in (False, True):
                s = Schedule(dataclasses.replace(CFG.diffusion, prediction=prediction, residual=residual))
                target = torch.randn(1, 4, 2, 2)
                x0 = s.diffused(target, image_latent)

                def oracle(lat, t, ctx):  # the exact prediction for a fixed x0
                    a = s.alphas_cumprod[int(t[0])].float()
                    eps = (lat[:, :4] - a.sqrt() * x0) / (1 - a).sqrt()
                    return {"epsilon": eps, "v": a.sqrt() * eps - (1 - a).sqrt() * x0, "sample": x0.expand_as(eps)}[prediction]

                out = sample_ddim(
                    oracle, s, image_latent, torch.zeros(1, 1, 1), torch.zeros(1, 1, 1), 10, 7.5, 1.5, torch.randn(1, 4, 2, 2)
                )
                torch.testing.assert_close(out, target, atol=1e-4, rtol=1e-4)

    def test_each_target_and_its_noise_agree(self):
        # x0 -> eps divides by sqrt(1 - a), about 0.03 at t = 0, which scales float32 rounding up 34-fold.
        for prediction, tol in (("v", 1e-5), ("epsilon", 1e-5), ("sample", 1e-3)):
            s = Schedule(dataclasses.replace(CFG.diffusion, prediction=prediction))
            x0, noise, t = torch.randn(3, 4, 2, 2), torch.randn(3, 4, 2, 2), torch.tensor([0, 400, 999])
            x = s.add_noise(x0, noise, t)
            for k in range(3):
                a = float(s.alphas_cumprod[t[k]])
                torch.testing.assert_close(s.to_eps(s.target(x0, noise, t)[k], x[k], a), noise[k], atol=tol, rtol=tol)

    def test_min_snr_weights(self):
        d = dataclasses.replace(CFG.diffusion, min_snr_gamma=5.0)
        t = torch.tensor([0, 999])
        ac = Schedule(d).alphas_cumprod[t].float()
        snr = ac / (1 - ac)  # about 1175 at t = 0 (capped at 5) and 0.0047 at t = 999 (kept)
        for prediction, denom in (("v", snr + 1), ("epsilon", snr), ("sample", torch.ones(2))):
            w = Schedule(dataclasses.replace(d, prediction=prediction)).loss_weight(t)
            torch.testing.assert_close(w, torch.stack([5.0 / denom[0], snr[1] / denom[1]]))
        torch.testing.assert_close(Schedule(dataclasses.replace(d, min_snr_gamma=0.0)).loss_weight(t), torch.ones(2))


class CheckpointTest(unittest.TestCase):
    def _train(self, path, total, stop_after=None):
        torch.manual_seed(0)
        vae = VAE(CFG.vae)
        opt = torch.optim.AdamW(vae.parameters(), lr=1e-3)
        data = torch.rand(16, 3, CFG.res, CFG.res) * 2 - 1

        def step(i):
            if stop_after is not None and i >= stop_after:
                raise KeyboardInterrupt
            loss, _ = vae.loss(data[batch_indices(i, 4, 16, 0)], torch.Generator().manual_seed(i))
            opt.zero_grad()
            loss.backward()
            opt.step()
            return {"loss": loss.item()}

        try:
            run("t", total, step, {"vae": vae}, opt, path, save_every=2, log_every=100)
        except KeyboardInterrupt:
            pass
        return vae

    def test_an_interrupted_run_resumes_to_the_same_weights(self):
        with tempfile.TemporaryDirectory() as d:
            straight = self._train(os.path.join(d, "a.npz"), 6)
            self._train(os.path.join(d, "b.npz"), 6, stop_after=4)
            resumed = self._train(os.path.join(d, "b.npz"), 6)
            for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
                torch.testing.assert_close(a, b, msg=k)

    def test_the_checkpoint_records_the_precision_of_each_stretch_of_steps(self):
        self.addCleanup(precision.use, precision.name())
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "p.npz")
            precision.use("float32")
            self._train(path, 6, stop_after=4)
            precision.use("bfloat16")
            self._train(path, 6)
            with open(path, "rb") as f:
                header = json.loads(np.load(f, allow_pickle=False)["header"].tobytes())
            self.assertEqual(header["meta"]["precision"], [[0, "float32"], [4, "bfloat16"]])

    def test_refuses_foreign_truncated_and_mismatched_files(self):
        with tempfile.TemporaryDirectory() as d:
            foreign = os.path.join(d, "x.npz")
            with open(foreign, "wb") as f:
                f.write(b"not a zip file at all")
            with self.assertRaises(checkpoint.CheckpointError):
                checkpoint.load(foreign, {"vae": VAE(CFG.vae)})
            good = os.path.join(d, "g.npz")
            checkpoint.save(good, {"vae": VAE(CFG.vae)}, None, 3)
            with open(good, "rb") as f:
                data = f.read()
            trunc = os.path.join(d, "t.npz")
            with open(trunc, "wb") as f:
                f.write(data[: len(data) // 2])
            with self.assertRaises(checkpoint.CheckpointError):
                checkpoint.load(trunc, {"vae": VAE(CFG.vae)})
            bigger = VAE(config.VAEConfig(channels=(8, 32)))
            with self.assertRaisesRegex(checkpoint.CheckpointError, "shape"):
                checkpoint.load(good, {"vae": bigger})
            with self.assertRaisesRegex(checkpoint.CheckpointError, "no model"):
                checkpoint.load(good, {"unet": UNet(CFG.unet, 4, 32)})
            # Saved with numpy alone and read back without pickle.
            self.assertEqual(np.load(good, allow_pickle=False)["header"].dtype, np.uint8)


class PrecisionTest(unittest.TestCase):
    def setUp(self):
        self.addCleanup(precision.use, precision.name())

    def test_bfloat16_steps_multiply_in_bfloat16_and_normalise_in_float32(self):
        linear, ln, gn = torch.nn.Linear(8, 8), LayerNorm(8), GroupNorm(2, 8)
        x = torch.randn(2, 8)
        precision.use("bfloat16")
        with precision.training_step():
            h = linear(x)
            self.assertEqual(h.dtype, torch.bfloat16)
            self.assertEqual(ln(h).dtype, torch.float32)
            self.assertEqual(gn(h[:, :, None, None]).dtype, torch.float32)
        precision.use("float32")
        with precision.training_step():
            self.assertEqual(linear(x).dtype, torch.float32)
        with self.assertRaisesRegex(ValueError, "precision must be one of"):
            precision.use("float16")

    def test_auto_is_bfloat16_only_where_the_cpu_multiplies_it_natively(self):
        expected = "bfloat16" if precision.native_bfloat16() else "float32"
        precision.use("auto")
        self.assertEqual(precision.name(), expected)


class CommittedCheckpointsTest(unittest.TestCase):
    """`npm run train` resumes from the checkpoints committed in train/runs/default: each must load into the
    modules its stage builds from the current default config, or the run stops at that stage."""

    RUN = os.path.join(os.path.dirname(__file__), "..", "runs", "default")

    def test_every_committed_checkpoint_fits_the_current_code(self):
        cfg = config.default()
        tok = stages.load_tokenizer(self.RUN)
        modules = {
            "vae": {"vae": VAE(cfg.vae)},
            "vision": stages.vision_modules(cfg),
            "mllm-see": stages.lm_modules(cfg, tok, "see", vision=True),
            "mllm-ins": stages.lm_modules(cfg, tok, "ins", vision=True),
            "lm-ins": stages.lm_modules(cfg, tok, "ins", vision=False),
            **{f"editor-{v}": stages.saved_modules(stages.editor_models(cfg, v, tok), v) for v in stages.VARIANTS},
            **{f"region-{v}": {"region_head": stages.region_head(cfg, v)} for v in stages.SEEING},
        }
        found = []
        for name, path in stages.paths(self.RUN).items():
            if name in modules and os.path.isfile(path):
                checkpoint.load(path, modules[name], restore_rng=False)
                found.append(name)
        # The shipped editors' weights live in models/ as ONNX; the rest of the chain is committed.
        self.assertLessEqual({"vae", "vision", "mllm-see", "mllm-ins", "lm-ins", "editor-mgie-ft", "editor-mgie-fz"}, set(found))


if __name__ == "__main__":
    unittest.main()
