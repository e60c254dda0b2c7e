"""IMP on sklearn's digits (64-32-10 MLP): counts, masks, rewinding, resume, CSV."""

from __future__ import annotations

import copy
import json
import math
import re

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import InputError, UsageError, library_call
from prunelimit.laws.errorlaw import fit_error_law, read_points
from prunelimit.laws.imp import (
    iterative_magnitude_pruning,
    level_density_count,
    mlp_shape,
)
from prunelimit.models.params import prunable_parameters

N_PRUNABLE = 64 * 32 + 32 * 10  # 2368


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    tr, te = perm[:640], perm[1400:]  # a small training set keeps every run < 1 s
    train = [(x[tr[i : i + 64]], y[tr[i : i + 64]]) for i in range(0, 640, 64)]
    return train, [(x[te], y[te])]


def _mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def _run(digits, model, **kw):
    train, ev = digits
    kw = {"lr": 0.1, "epochs_per_level": 1, **kw}
    return iterative_magnitude_pruning(model, train, ev, cross_entropy_loss, **kw)


def _masks(path):
    return torch.load(path, weights_only=True)["masks"]


def test_sweep_counts_masks_and_csv(digits, tmp_path):
    rate, levels = 0.2, 6
    model = _mlp()
    res = _run(digits, model, rate=rate, levels=levels, out_dir=tmp_path, epochs_per_level=4)
    assert [r.level for r in res.rows] == list(range(levels + 1))
    assert res.prunable == N_PRUNABLE
    previous = None
    for row in res.rows:
        # Exact count: N − ceil((1 − 0.8^k)·N) kept, from the global ratio (no drift).
        kept = N_PRUNABLE - math.ceil((1 - (1 - rate) ** row.level) * N_PRUNABLE - 1e-9)
        assert kept == level_density_count(row.level, rate, N_PRUNABLE)
        assert row.density == kept / N_PRUNABLE
        assert 0.0 <= row.error <= 1.0 and (row.width, row.depth) == (32, 2)
        ckpt = torch.load(tmp_path / f"level_{row.level:03d}.pt", weights_only=True)
        assert ckpt["format"] == "prunelimit/1" and ckpt["level"] == row.level
        masks = ckpt["masks"]
        assert sum(int(m.sum()) for m in masks.values()) == kept
        for name, m in masks.items():
            # Pruned weights stay exactly zero after fine-tuning with momentum.
            assert torch.all(ckpt["state_dict"][name][~m] == 0)
            if previous is not None:  # never regrown
                assert not torch.any(m & ~previous[name])
        previous = masks
    assert res.rows[0].error < 0.3  # the dense net learnt something (chance: 0.9)
    # The CSV feeds the error-law reader (extra columns ignored, width/depth kept).
    pts = read_points(res.csv_path)
    assert pts.density.tolist() == [r.density for r in res.rows]
    assert pts.has_shape and set(pts.width.tolist()) == {32.0}
    fit = fit_error_law(pts, leave_one_out=False)  # one network: the single-network law
    assert fit.configs[0].eps_np_measured and math.isfinite(fit.gamma)  # level 0 measured the dense error


def test_a_pruned_start_keeps_its_masks_and_prunes_from_its_density(digits, tmp_path):
    # start at density 0.5 (its pruned weights zero); each level keeps 0.8 of the level before
    from prunelimit.pruning.magnitude import prune_model

    model = _mlp(3)
    start = prune_model(model, 0.5).masks
    res = _run(digits, model, rate=0.2, levels=2, epochs_dense=1, out_dir=tmp_path, masks=start)
    half = N_PRUNABLE - math.ceil(0.5 * N_PRUNABLE)
    kept = [N_PRUNABLE - math.ceil((1 - half / N_PRUNABLE * 0.8**k) * N_PRUNABLE - 1e-9) for k in range(3)]
    assert kept == [1184, 947, 757] and [r.density * N_PRUNABLE for r in res.rows] == pytest.approx(kept)
    for row in res.rows:
        ckpt = torch.load(tmp_path / f"level_{row.level:03d}.pt", weights_only=True)
        for name, m in ckpt["masks"].items():
            assert not torch.any(m & ~start[name])  # nothing the start had pruned comes back
            assert torch.all(ckpt["state_dict"][name][~m] == 0)


def test_first_level_is_global_magnitude_pruning_of_init(digits):
    # No training at all: level 1 must keep exactly the largest |w| over both layers.
    model = _mlp(1)
    w0 = torch.cat([p.detach().abs().flatten() for _, p in prunable_parameters(model)])
    _run(digits, model, rate=0.3, levels=1, epochs_dense=0, epochs_per_level=0, rewind="none")
    w1 = torch.cat([p.detach().flatten() for _, p in prunable_parameters(model)])
    kept = w1 != 0
    assert int(kept.sum()) == level_density_count(1, 0.3, N_PRUNABLE)
    assert w0[kept].min() >= w0[~kept].max()
    assert torch.equal(w1[kept].abs(), w0[kept])


@pytest.mark.parametrize("rewind", ["init", "early", "none"])
def test_rewind_point(digits, rewind):
    # With no retraining, level-1 weights = (rewind point) ⊙ mask; oracle built by hand.
    train, _ = digits
    model = _mlp(2)
    oracle = copy.deepcopy(model)
    steps = {"init": 0, "early": 3, "none": len(train)}[rewind]
    torch.manual_seed(0)
    opt = torch.optim.SGD(oracle.parameters(), lr=0.1, momentum=0.9)
    for batch in train[:steps]:
        opt.zero_grad()
        cross_entropy_loss(oracle, batch).backward()
        opt.step()
    # rewind_steps only where the rewind reads it: ImpConfig refuses it beside another rewind
    _run(digits, model, rate=0.5, levels=1, rewind=rewind, **({"rewind_steps": 3} if rewind == "early" else {}),
         epochs_dense=1, epochs_per_level=0)
    kept_total = sum(int((p != 0).sum()) for _, p in prunable_parameters(model))
    assert kept_total == level_density_count(1, 0.5, N_PRUNABLE)
    for (_, p), (_, q) in zip(prunable_parameters(model), prunable_parameters(oracle)):
        kept = p != 0
        torch.testing.assert_close(p[kept], q.detach()[kept], rtol=0, atol=1e-6)


def test_resume_continues_and_reproduces(digits, tmp_path):
    kw = dict(rate=0.5, rewind="init", seed=3)
    full = _run(digits, _mlp(), levels=3, out_dir=tmp_path / "full", **kw)
    part = _run(digits, _mlp(), levels=1, out_dir=tmp_path / "part", **kw)
    assert part.resumed_after is None and len(part.rows) == 2
    seen = []
    resumed = _run(digits, _mlp(), levels=3, out_dir=tmp_path / "part", progress=seen.append, **kw)
    assert resumed.resumed_after == 1
    assert [r.level for r in seen] == [2, 3]  # only the missing levels ran
    assert resumed.rows == full.rows  # per-level seeds make the resumed sweep identical
    # A second resume with nothing left to do is a no-op.
    again = _run(digits, _mlp(), levels=3, out_dir=tmp_path / "part", **kw)
    assert again.rows == full.rows and again.resumed_after == 3
    with pytest.raises(UsageError, match="other settings"):
        _run(digits, _mlp(), levels=4, out_dir=tmp_path / "part", rate=0.2, seed=3)
    with pytest.raises(UsageError, match="already holds"):
        _run(digits, _mlp(), levels=3, out_dir=tmp_path / "part", resume=False, **kw)


def test_mlp_shape_and_bad_arguments(digits):
    assert mlp_shape(_mlp()) == (32, 2)
    assert mlp_shape(torch.jit.script(_mlp())) == (32, 2)  # a TorchScript checkpoint's model
    # a traced Linear keeps no out_features (imp on a traced model failed with AttributeError)
    assert mlp_shape(torch.jit.trace(_mlp(), torch.zeros(2, 64))) == (32, 2)
    assert mlp_shape(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 6),
                                   nn.Linear(6, 2))) == (None, None)  # mixed widths
    assert mlp_shape(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 2))) == (
        None, None)
    with pytest.raises(UsageError, match="rate"):
        _run(digits, _mlp(), rate=1.0)
    with pytest.raises(UsageError, match="rewind"):
        _run(digits, _mlp(), rewind="late")
    with pytest.raises(UsageError, match="early"):
        _run(digits, _mlp(), rewind="early", epochs_dense=0)


@pytest.mark.parametrize("damage", [
    lambda ckpt: ckpt.update(masks="x"),
    lambda ckpt: ckpt.update(masks={}),
    lambda ckpt: ckpt.update(state_dict="x"),
    lambda ckpt: ckpt["state_dict"].update({"0.weight": torch.zeros(3, 3)}),
    lambda ckpt: ckpt["masks"].update({"0.weight": torch.ones(3, 3, dtype=torch.bool)}),
    # a 10 GB mask over one byte of storage: refused before anything materialises it
    lambda ckpt: ckpt["masks"].update({"0.weight": torch.ones(1, dtype=torch.bool).expand(100_000, 100_000)}),
])
def test_resume_from_damaged_level_file_is_an_input_error(digits, tmp_path, damage):
    """The sweep folder's files are read like any checkpoint from a stranger (issue 16): a
    damaged or hostile level file is exit 3 with its name, not an internal error."""
    kw = dict(rate=0.5, rewind="none", seed=3)
    _run(digits, _mlp(), levels=1, out_dir=tmp_path, **kw)
    level = tmp_path / "level_001.pt"
    ckpt = torch.load(level, weights_only=True)
    damage(ckpt)
    torch.save(ckpt, level)
    with pytest.raises(InputError, match="level_001.pt"):
        _run(digits, _mlp(), levels=2, out_dir=tmp_path, **kw)


def test_a_recorded_setting_of_any_size_is_named_in_a_line_of_its_own_size(digits, tmp_path):
    """A level file's recorded setting was echoed whole: 5,000 characters in the one-line error."""
    kw = dict(rate=0.5, rewind="none", seed=3)
    _run(digits, _mlp(), levels=1, out_dir=tmp_path, **kw)
    level = tmp_path / "level_001.pt"
    ckpt = torch.load(level, weights_only=True)
    ckpt["imp"]["lr"] = "y" * 5000
    torch.save(ckpt, level)
    with pytest.raises(UsageError, match=r"other settings: lr y{40}… \(now ") as caught:
        _run(digits, _mlp(), levels=2, out_dir=tmp_path, **kw)
    assert len(str(caught.value)) < len(str(tmp_path)) + 200


def test_each_level_keeps_its_scheduled_count_when_live_weights_are_exactly_zero(digits):
    """A live weight that is exactly zero ties in |w| with the pruned ones; by flat index it took
    a pruned weight's place, which the `& mask` then dropped: level 1 kept 1408, not 1638."""
    model = _mlp()
    with torch.no_grad():
        model[2].weight.zero_()  # pruned (its mask below)
        model[0].weight[:, :20] = 0.0  # 640 live zeros, before the pruned weights in flat order
    masks = {"0.weight": torch.ones(32, 64, dtype=torch.bool), "2.weight": torch.zeros(10, 32, dtype=torch.bool)}
    res = _run(digits, model, rate=0.2, levels=3, epochs_per_level=0, epochs_dense=0, masks=masks)
    d0 = 2048 / N_PRUNABLE
    previous = masks
    for row in res.rows:
        assert round(row.density * N_PRUNABLE) == N_PRUNABLE - math.ceil((1 - d0 * 0.8**row.level) * N_PRUNABLE - 1e-9)
    for name, m in res.masks.items():
        assert not torch.any(m & ~previous[name])  # never regrown


def test_resume_refuses_other_data_or_model(digits, tmp_path):
    """A resumed sweep measured its new levels on whatever data the call named: a sweep begun
    on one eval set and continued on another wrote one CSV of two error definitions."""
    meta = {"data": "digits:train", "eval_data": "digits:test", "loss": "ce"}
    kw = dict(rate=0.5, rewind="none", model_spec="mlp:64,32,10")
    _run(digits, _mlp(), levels=1, out_dir=tmp_path, meta=meta, **kw)
    with pytest.raises(UsageError, match=r"eval_data digits:test \(now digits:train\)"):
        _run(digits, _mlp(), levels=2, out_dir=tmp_path, meta={**meta, "eval_data": "digits:train"}, **kw)
    with pytest.raises(UsageError, match=r"model mlp:64,32,10 \(now file.py:net\)"):
        _run(digits, _mlp(), levels=2, out_dir=tmp_path, meta=meta, **{**kw, "model_spec": "file.py:net"})
    assert _run(digits, _mlp(), levels=2, out_dir=tmp_path, meta=meta, **kw).resumed_after == 1
    assert torch.load(tmp_path / "level_002.pt", weights_only=True)["meta"] == meta


def test_levels_past_the_last_weight_are_refused_before_training(digits, tmp_path):
    # 2368 weights at rate 0.5: level 11 keeps 1, level 12 none (density 0, outside the error law,
    # whose reader then refused the sweep's own CSV)
    assert level_density_count(11, 0.5, N_PRUNABLE) == 1 and level_density_count(12, 0.5, N_PRUNABLE) == 0
    model = _mlp()
    before = copy.deepcopy(model.state_dict())
    with library_call(), pytest.raises(UsageError, match="^levels=13: level 12 would keep none of the 2368 weights "
                                                         "at rate=0.5; use levels=11 or a lower rate$"):
        _run(digits, model, rate=0.5, levels=13, out_dir=tmp_path / "sweep")
    assert not (tmp_path / "sweep").exists()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # nothing trained
    assert _run(digits, _mlp(), rate=0.5, levels=11, epochs_per_level=0).rows[-1].density == 1 / N_PRUNABLE


def test_resume_names_the_settings_that_differ_and_refuses_other_training_batches(digits, tmp_path):
    """Another batch size or sample count (`--batch-size`, `--max-samples`) resumed the sweep and
    trained its new levels on other batches, one CSV of two sweeps; other settings were refused
    without saying which."""
    train, _ = digits
    kw = dict(rate=0.5, rewind="none", seed=3)
    _run(digits, _mlp(), levels=1, out_dir=tmp_path, **kw)
    with pytest.raises(UsageError, match=r"other settings: rate 0.5 \(now 0.2\), seed 3 \(now 4\);"):
        _run(digits, _mlp(), levels=2, out_dir=tmp_path, **{**kw, "rate": 0.2, "seed": 4})
    halves = [tuple(t[i : i + 32] for t in b) for b in train for i in (0, 32)]
    with pytest.raises(UsageError, match=r"other settings: batch_size 64 \(now 32\);"):
        _run((halves, digits[1]), _mlp(), levels=2, out_dir=tmp_path, **kw)
    with pytest.raises(UsageError, match=r"other settings: train_samples 640 \(now 576\);"):
        _run((train[:9], digits[1]), _mlp(), levels=2, out_dir=tmp_path, **kw)
    assert _run(digits, _mlp(), levels=2, out_dir=tmp_path, **kw).resumed_after == 1


@pytest.mark.parametrize("damage, match", [
    (lambda text: text[:text.rindex(",32,2")], "one field per column in every row"),  # the last row cut short
    (lambda text: re.sub(r",32,2,(\w+)\n$", r",32,,\1\n", text), "level 2 has width,depth 32,None"),
    (lambda text: text[:-2], "evaluated_on 'eval_dat' is none of eval_data, training_data"),  # cut in its last field
    (lambda text: text.replace("\n2,0.25,", "\n2,0.5,"), "density 0.5.* is not what level_002.pt records"),
    # an earlier row went on into the result and the CSV as it stood (a NaN, a density of 2.5
    # reached `law error-fit`), and level 0's density set every later level's
    (lambda text: text.replace("\n1,0.5,", "\n1,nan,"), "level 1 holds a NaN or infinite value"),
    (lambda text: re.sub(r"\n1,0\.5,[^,]*,", "\n1,0.5,inf,", text), "level 1 holds a NaN or infinite value"),
    (lambda text: text.replace("\n1,0.5,", "\n1,2.5,"), "level 1 has density 2.5 .* densities fall"),
    (lambda text: re.sub(r"\n1,0\.5,[^,]*,", "\n1,0.5,1.5,", text), "errors are fractions in \\[0, 1\\]"),
    (lambda text: text.replace("\n0,1.0,", "\n0,0.9,"), "level 0 has density 0.9, not this model's 1"),
])
def test_resume_refuses_a_damaged_progress_file(digits, tmp_path, damage, match):
    """A row cut short read its missing width and depth as "none" and resumed, so the sweep's
    CSV lost the joint law's columns; the CSV's last row must be what its checkpoint records."""
    kw = dict(rate=0.5, rewind="none", seed=3)
    _run(digits, _mlp(), levels=2, out_dir=tmp_path, **kw)
    csv_path = tmp_path / "imp.csv"
    csv_path.write_text(damage(csv_path.read_text()))
    with pytest.raises(InputError, match=match):
        _run(digits, _mlp(), levels=3, out_dir=tmp_path, **kw)


def test_an_early_rewind_point_past_dense_training_is_refused_before_it(digits, tmp_path):
    """--rewind-steps beyond the dense steps took no snapshot, and the sweep rewound to the
    trained dense network in silence (a default 10 on 5 dense steps did). Refused now, naming
    the dense steps; at exactly them the rewind point is the end of dense training, as asked."""
    train, _ = digits
    with library_call(), pytest.raises(UsageError, match=rf"^rewind_steps={len(train) + 1} lies past the end of dense "
                                                         rf"training, {len(train)} step\(s\) \(epochs_dense=1 × "
                                                         rf"{len(train)} batch\(es\)\).* use rewind_steps={len(train)} "
                                                         "or fewer, or a larger epochs_dense$"):
        _run(digits, _mlp(), levels=1, rewind="early", rewind_steps=len(train) + 1, epochs_dense=1,
             out_dir=tmp_path / "refused")
    assert not (tmp_path / "refused").exists()  # before any training or file
    _run(digits, _mlp(), levels=1, rewind="early", rewind_steps=len(train), epochs_dense=1, out_dir=tmp_path / "end")
    dense = torch.load(tmp_path / "end" / "level_000.pt", weights_only=True)["state_dict"]
    point = torch.load(tmp_path / "end" / "rewind.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(point[k], dense[k]) for k in dense)


@pytest.mark.parametrize("rewind", ["init", "early"])
def test_every_level_is_the_saved_rewind_point_under_its_mask_exactly(digits, tmp_path, rewind):
    """With no retraining each level's weights are rewind.pt's, bit for bit, on the kept entries,
    zero on the pruned ones, and the nonzeros are the scheduled count."""
    _run(digits, _mlp(), rate=0.5, levels=3, rewind=rewind, rewind_steps=3 if rewind == "early" else 10,
         epochs_dense=1, epochs_per_level=0,
         out_dir=tmp_path)
    point = torch.load(tmp_path / "rewind.pt", weights_only=True)["state_dict"]
    for level in (1, 2, 3):
        ckpt = torch.load(tmp_path / f"level_{level:03d}.pt", weights_only=True)
        for name, value in ckpt["state_dict"].items():
            mask = ckpt["masks"].get(name)
            assert torch.equal(value, point[name] if mask is None else point[name] * mask)
        nonzero = sum(int((ckpt["state_dict"][name] != 0).sum()) for name in ckpt["masks"])
        assert nonzero == level_density_count(level, 0.5, N_PRUNABLE)


@pytest.mark.parametrize("rewind", ["early", "none"])
def test_a_resumed_sweep_is_bit_identical(digits, tmp_path, rewind):
    kw = dict(rate=0.5, rewind=rewind, rewind_steps=3 if rewind == "early" else 10, epochs_dense=1, seed=5)
    full = _run(digits, _mlp(), levels=3, out_dir=tmp_path / "full", **kw)
    _run(digits, _mlp(), levels=1, out_dir=tmp_path / "part", **kw)
    assert _run(digits, _mlp(), levels=3, out_dir=tmp_path / "part", **kw).rows == full.rows
    for level in range(4):
        a, b = (torch.load(tmp_path / d / f"level_{level:03d}.pt", weights_only=True) for d in ("full", "part"))
        assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_resuming_a_sweep_that_records_fewer_settings_names_the_older_version(digits, tmp_path):
    """Sweeps written before the training batches were recorded (train_samples, batch_size) were
    refused as "other settings: train_samples None (now 640)"; no setting matches None."""
    kw = dict(rate=0.5, rewind="none", seed=3)
    _run(digits, _mlp(), levels=1, out_dir=tmp_path, **kw)
    path = tmp_path / "level_001.pt"
    level = torch.load(path, weights_only=True)
    older = {k: v for k, v in level["imp"].items() if k not in ("train_samples", "batch_size")}
    torch.save({**level, "imp": older}, path)
    with pytest.raises(UsageError, match=r"holds an IMP sweep an older prunelimit wrote: it records no "
                                         r"train_samples, batch_size, which this version checks") as info:
        _run(digits, _mlp(), levels=2, out_dir=tmp_path, **kw)
    assert "None" not in str(info.value)


def test_a_level_in_another_versions_format_is_named_as_such(digits, tmp_path):
    """A level file another version wrote (another ``format``) read as "not a checkpoint of an
    IMP sweep"; it is one, in a format this version does not read."""
    kw = dict(rate=0.5, rewind="none", seed=3)
    _run(digits, _mlp(), levels=1, out_dir=tmp_path, **kw)
    path = tmp_path / "level_001.pt"
    torch.save({**torch.load(path, weights_only=True), "format": "prunelimit/2"}, path)
    with pytest.raises(InputError, match=r"level_001\.pt: an IMP level in format prunelimit/2, which another "
                                         r"prunelimit version wrote \(this one reads prunelimit/1\)"):
        _run(digits, _mlp(), levels=2, out_dir=tmp_path, **kw)



def test_an_error_measured_on_the_training_batches_is_named_in_a_warning(digits):
    """Without eval data the sweep's error is 1 − accuracy on the batches it trains on, not
    the held-out error the law describes: it said nothing, and its rows read as test errors."""
    train, _ = digits
    model = _mlp()
    on_train = iterative_magnitude_pruning(model, train, train, cross_entropy_loss, lr=0.1, epochs_per_level=1,
                                           levels=1)
    assert len(on_train.warnings) == 1 and "training data" in on_train.warnings[0]
    assert on_train.to_json()["warnings"] == list(on_train.warnings)
    with torch.no_grad():  # the row is 1 − accuracy on those training batches
        correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in train)
    assert on_train.rows[-1].error == pytest.approx(1 - correct / sum(len(y) for _, y in train))
    held_out = _run(digits, _mlp(), levels=1)
    assert held_out.warnings == () and held_out.to_json()["warnings"] == []


def test_imp_without_eval_data_warns_that_its_errors_are_training_errors(cli, tmp_path):
    args = ("imp", "mlp:64,16,10", "--data", "digits:train", "--max-samples", "128", "--levels", "1", "--epochs", "1",
            "--threads", "1")
    run = cli(*args, "-o", tmp_path / "a", "--json")
    assert run.exit_code == 0, run.stderr
    assert ["training data" in w and "--eval-data" in w for w in json.loads(run.stdout)["warnings"]] == [True]
    run = cli(*args, "-o", tmp_path / "b")  # the console says it too
    assert run.exit_code == 0 and "warning: the error of every level" in " ".join(run.stdout.split())
    run = cli(*args, "--eval-data", "digits:test", "-o", tmp_path / "c", "--json")
    assert run.exit_code == 0 and json.loads(run.stdout)["warnings"] == []


def test_the_csv_records_what_each_error_is_measured_on_and_error_fit_warns_of_training_errors(digits, cli,
                                                                                              tmp_path):
    """``imp`` warned that its errors were training errors, but its CSV did not say so, and
    ``law error-fit`` fitted it without a word. The CSV's ``evaluated_on`` column says it on
    every row, ``law error-fit`` and ``fit_error_law(result.points())`` warn, and a sweep an
    older version wrote (no such column) still resumes."""
    import json

    from prunelimit.errors import library_call
    from prunelimit.laws.errorlaw import fit_error_law, read_points

    train, _ = digits
    kw = dict(rate=0.5, rewind="none", seed=3, lr=0.1, epochs_per_level=1)
    on_train = iterative_magnitude_pruning(_mlp(), train, train, cross_entropy_loss, levels=5,
                                           out_dir=tmp_path / "t", **kw)
    lines = (tmp_path / "t" / "imp.csv").read_text().splitlines()
    assert lines[0].endswith(",evaluated_on") and all(line.endswith(",training_data") for line in lines[1:])
    assert {r.evaluated_on for r in on_train.rows} == {"training_data"}
    with library_call():
        fitted = fit_error_law(on_train.points(), leave_one_out=False)
    assert [w for w in fitted.warnings if "training data" in w][0].endswith("eval_data=")
    assert read_points(tmp_path / "t" / "imp.csv").on_training_data
    run = cli("law", "error-fit", tmp_path / "t" / "imp.csv", "--json")
    assert run.exit_code == 0, run.stderr
    assert [w for w in json.loads(run.stdout)["warnings"] if "training data" in w][0].endswith("--eval-data")

    held_out = _run(digits, _mlp(), levels=5, out_dir=tmp_path / "h", **kw)
    assert all(line.endswith(",eval_data") for line in (tmp_path / "h" / "imp.csv").read_text().splitlines()[1:])
    run = cli("law", "error-fit", tmp_path / "h" / "imp.csv", "--json")
    assert run.exit_code == 0 and not [w for w in json.loads(run.stdout)["warnings"] if "training data" in w]
    assert not [w for w in fit_error_law(held_out.points(), leave_one_out=False).warnings if "training data" in w]

    # an older version's CSV: no evaluated_on column; it resumes, its rows' value unknown (empty)
    path = tmp_path / "h" / "imp.csv"
    path.write_text("".join(line.rsplit(",", 1)[0] + "\n" for line in path.read_text().splitlines()))
    resumed = _run(digits, _mlp(), levels=6, out_dir=tmp_path / "h", **kw)
    assert resumed.resumed_after == 5 and [r.evaluated_on for r in resumed.rows] == [None] * 6 + ["eval_data"]
    lines = path.read_text().splitlines()
    assert lines[0].endswith(",evaluated_on") and all(line.endswith(",") for line in lines[1:7])
    assert lines[7].endswith(",eval_data")
