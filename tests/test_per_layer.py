"""`bounds --per-layer` / `spectrum --per-layer`: where the limit comes from, layer by layer."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from torch import nn

import prunelimit
from prunelimit import api
from prunelimit.cache import open_store
from prunelimit.curvature.exact import exact_hessian
from prunelimit.curvature.hvp import HessianOperator
from prunelimit.curvature.layers import (LAYER_STEPS, REST, BlockCost, exact_block_curvature,
                                         lanczos_block_products, parameter_blocks)
from prunelimit.inputs import load_inputs
from prunelimit.models.params import hessian_parameters, prunable_parameters
from prunelimit.theory.layers import COLLAPSE_SPARSITY, layer_shares
from prunelimit.theory.profile import MagnitudeProfile
from prunelimit.theory.statdim import stat_dim_fraction

FIELDS = {"name", "params", "trace", "lambda_max", "share_of_width", "sparsity_at_rho", "radius_share",
          "limit_alone", "collapsed"}


def _inputs(ckpt):
    return load_inputs(ckpt, data="digits:train", max_samples=300, device="cpu")


def _exact_blocks(inputs):
    """The exact float64 Hessian's diagonal blocks, by name, formed here independently."""
    named = hessian_parameters(inputs.model, inputs.selection)
    op = HessianOperator(inputs.model, [p for _, p in named], inputs.batches, inputs.loss_fn, dtype=torch.float64)
    h = exact_hessian(op)
    out, start = {}, 0
    for name, p in named:
        out[name] = h[start : start + p.numel(), start : start + p.numel()]
        start += p.numel()
    return out, h


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def test_exact_per_layer_curvature_is_that_of_the_exact_hessian_blocks(own_ckpt, tmp_path):
    inputs = _inputs(own_ckpt)
    blocks, full = _exact_blocks(inputs)
    store = open_store(tmp_path / "cache", True)
    options = api.CurvatureOptions(method="exact")
    first = api.bounds(inputs, options, per_layer=True)  # blocks of this run's dense Hessian
    api.bounds(inputs, options, store=store)  # the spectrum stored alone: no blocks to read back
    again = api.bounds(inputs, options, store=store, per_layer=True)  # spectrum cached: blocks formed anew
    assert first.layers.cost.method == "exact" and again.layers.cost.method == "formed"
    assert again.spectrum.cached and again.spectrum.dense is None and first.spectrum.dense is None
    for rep in (first, again):
        layers = {layer.name: layer for layer in rep.layers.layers}
        assert set(layers) == {"0.weight", "2.weight", REST}
        for name in ("0.weight", "2.weight"):
            h = blocks[name]
            # the same float64 products, summed in another order: 1e-6 is the claim
            assert _rel(layers[name].trace, float(torch.trace(h))) < 1e-6
            assert _rel(layers[name].lambda_max, float(torch.linalg.eigvalsh(h)[-1])) < 1e-6
        # the diagonal blocks' traces add up to the full trace, coupled or not
        assert _rel(sum(layer.trace for layer in layers.values()), float(torch.trace(full))) < 1e-6


def test_default_method_gives_the_same_exact_blocks_whether_or_not_the_spectrum_was_cached(own_ckpt, tmp_path):
    """The default picks the exact solver on this small model; a cache hit holds no dense
    Hessian, and its blocks used to come from 2-probe Lanczos, with other traces."""
    inputs = _inputs(own_ckpt)
    store = open_store(tmp_path / "cache", True)
    first = api.bounds(inputs, api.CurvatureOptions(), per_layer=True)
    api.bounds(inputs, api.CurvatureOptions(), store=store)  # the spectrum stored alone: no blocks to read back
    again = api.bounds(inputs, api.CurvatureOptions(), store=store, per_layer=True)
    assert first.spectrum.solver == "exact" and again.spectrum.cached
    assert (first.layers.cost.method, again.layers.cost.method) == ("exact", "formed")
    for a, b in zip(first.layers.layers, again.layers.layers, strict=True):
        assert a.name == b.name and _rel(b.trace, a.trace) < 1e-6 and _rel(b.lambda_max, a.lambda_max) < 1e-6


def test_limit_alone_solves_the_fixed_point_of_the_layer_by_itself(own_ckpt):
    inputs = _inputs(own_ckpt)
    blocks, _ = _exact_blocks(inputs)
    rep = api.bounds(inputs, api.CurvatureOptions(method="exact"), per_layer=True)
    weights = dict(prunable_parameters(inputs.model))
    for layer in rep.layers.layers:
        if not layer.prunable:
            assert layer.limit_alone is None and layer.sparsity_at_rho is None
            continue
        eig = np.linalg.eigvalsh(blocks[layer.name].numpy())
        path = MagnitudeProfile.from_tensors([weights[layer.name].detach()])
        rho = layer.limit_alone
        f = stat_dim_fraction(eig, np.full(len(eig), 1 / len(eig)), path.radius_continuous(rho), rep.epsilon)
        assert 0 < rho < 1 and f == pytest.approx(rho, abs=1e-9)


def test_shares_sparsity_and_radius_at_the_predicted_ratio(own_ckpt):
    inputs = _inputs(own_ckpt)
    rep = api.bounds(inputs, api.CurvatureOptions(method="exact"), per_layer=True)
    layers = rep.layers.layers
    assert sum(l.share_of_width for l in layers) == pytest.approx(1.0, abs=1e-12)
    prunable = [l for l in layers if l.prunable]
    assert sum(l.radius_share for l in prunable) == pytest.approx(1.0, abs=1e-12)
    masks = rep.profile.keep_masks(rep.ratio)
    for layer, keep in zip(prunable, masks):
        assert layer.sparsity_at_rho == pytest.approx(float((~keep).sum()) / keep.numel(), abs=0)
    removed = sum(l.sparsity_at_rho * l.params for l in prunable)
    assert removed == int(np.ceil(rep.ratio * rep.params_prunable - 1e-9))  # global MP: ceil(ρ*·N) in all
    assert rep.layers.radius == pytest.approx(rep.radius, rel=1e-12)
    # block-diagonal F at R(ρ*), from the widths
    assert rep.layers.block_diagonal_f == pytest.approx(sum(l.width for l in layers) / rep.spectrum.params_hessian)


class _Mixed(torch.nn.Module):
    """A convolution with BatchNorm, a 1-weight layer, an all-zero layer and an output layer
    tied to an embedding: every kind of block at once."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3)
        self.fc, self.one, self.zero = torch.nn.Linear(12, 6), torch.nn.Linear(1, 1), torch.nn.Linear(6, 6)
        self.out = torch.nn.Linear(6, 5)
        self.emb = torch.nn.Embedding(5, 6)
        self.emb.weight = self.out.weight

    def forward(self, x):
        h = torch.tanh(self.fc(torch.relu(self.bn(self.conv(x))).flatten(1)))
        h = h + self.one(h[:, :1]) + self.zero(h) + self.emb.weight.sum(0)
        return self.out(h)


@pytest.mark.parametrize("exclude", [(), ("conv",)])
def test_blocks_and_removed_counts_against_an_independent_hessian(exclude):
    """Against the Hessian formed here by torch.autograd (float64) on the parameters the
    model's selection puts in D: each block's trace and λmax are its exact block's (1e-9
    relative: the same float64 derivatives summed in another order), the traces add up to
    the full trace, and the removed counts are ceil(ρ*·N) in all and, layer by layer, what
    `prune --ratio auto` removes (conv, BatchNorm outside D, a 1-weight layer, an all-zero
    layer, tied weights, an --exclude scope)."""
    from torch.func import functional_call

    from prunelimit.models.params import ParamSelection

    torch.manual_seed(0)
    model = _Mixed()
    with torch.no_grad():
        model.zero.weight.zero_()
    model.eval()
    x, y = torch.randn(40, 1, 4, 4), torch.randint(0, 5, (40,))
    rep = prunelimit.bounds(model, (x, y), per_layer=True, method="exact", batch_size=10, exclude=exclude)
    names = [n for n, _ in hessian_parameters(model, ParamSelection((), exclude))]
    params = {n: p.detach().double() for n, p in model.named_parameters()}
    double = copy.deepcopy(model).double()

    def loss(flat):
        sizes = [params[n].numel() for n in names]
        given = {n: v.view_as(params[n]) for n, v in zip(names, flat.split(sizes))}
        return torch.nn.functional.cross_entropy(functional_call(double, {**params, **given}, (x.double(),)), y)

    full = torch.autograd.functional.hessian(loss, torch.cat([params[n].reshape(-1) for n in names]))
    starts = np.cumsum([0] + [params[n].numel() for n in names])
    span = {n: torch.arange(int(a), int(b)) for n, a, b in zip(names, starts[:-1], starts[1:])}
    layers = {layer.name: layer for layer in rep.layers.layers}
    rest = torch.cat([span[n] for n in names if n not in layers])
    assert "bn.weight" not in names and ("conv.weight" in layers) == (not exclude)
    for name, layer in layers.items():
        index = rest if name == REST else span[name]
        block = full[index][:, index]
        assert layer.params == len(index)
        assert _rel(layer.trace, float(torch.trace(block))) < 1e-9
        assert _rel(layer.lambda_max, float(torch.linalg.eigvalsh(block)[-1])) < 1e-9
    assert _rel(sum(layer.trace for layer in layers.values()), float(torch.trace(full))) < 1e-9
    prunable = [layer for layer in layers.values() if layer.prunable]
    removed = {layer.name: round(layer.sparsity_at_rho * layer.params) for layer in prunable}
    assert sum(removed.values()) == int(np.ceil(rep.ratio * sum(layer.params for layer in prunable) - 1e-9))
    auto = prunelimit.prune(model, "auto", (x, y), method="exact", batch_size=10, exclude=exclude)
    assert {layer.name: layer.zeros for layer in auto.layers} == removed
    assert layers["zero.weight"].sparsity_at_rho == 1.0 and not layers["zero.weight"].collapsed


def test_block_lanczos_by_default_when_no_dense_hessian(own_ckpt):
    inputs = _inputs(own_ckpt)
    blocks, _ = _exact_blocks(inputs)
    rep = api.bounds(inputs, api.CurvatureOptions(method="slq"), per_layer=True)
    cost = rep.layers.cost
    assert (cost.method, cost.steps, cost.probes) == ("lanczos", 32, 2) and cost.hvps > 0
    for layer in rep.layers.layers:
        if layer.prunable:  # 32-step Lanczos: λmax to ~1e-10 on these blocks (measured); 1e-4 claimed
            assert _rel(layer.lambda_max, float(torch.linalg.eigvalsh(blocks[layer.name])[-1])) < 1e-4


@pytest.mark.parametrize("method", ["slq", "exact"])
def test_per_layer_progress_counts_against_its_own_plan(own_ckpt, tmp_path, method):
    """The per-layer stage reports its products against its own plan (Lanczos: a small
    block's size, else probes × steps; formed: D columns), not the spectrum's last total."""
    inputs = _inputs(own_ckpt)
    store = open_store(tmp_path / "cache", True)
    if method == "exact":  # a cached exact spectrum holds no dense Hessian: the blocks are formed
        api.bounds(inputs, api.CurvatureOptions(method=method), store=store)
    seen = []
    rep = api.bounds(inputs, api.CurvatureOptions(method=method), lambda done, total=None, text=None, **_:
                     seen.append((done, total, text)), store=store, per_layer=True)
    stage = [(done, total) for done, total, text in seen if text == "per-layer curvature"]
    blocks = parameter_blocks([n for n, _ in hessian_parameters(inputs.model, inputs.selection)],
                              [p.numel() for _, p in hessian_parameters(inputs.model, inputs.selection)],
                              [n for n, _ in prunable_parameters(inputs.model, inputs.selection)])
    plan = lanczos_block_products(blocks) if method == "slq" else sum(b.size for b in blocks)
    assert rep.layers.cost.method == ("lanczos" if method == "slq" else "formed")
    assert stage and {total for _, total in stage} == {plan}
    assert all(done <= plan for done, _ in stage) and stage[-1][0] >= plan - 2 * LAYER_STEPS


def test_collapsed_layer_is_flagged():
    gen = torch.Generator().manual_seed(0)
    big, tiny = torch.randn(200, generator=gen), 1e-4 * torch.randn(20, generator=gen)
    curvature = exact_block_curvature(torch.eye(220, dtype=torch.float64), parameter_blocks(["a", "b"], [200, 20],
                                                                                             ["a", "b"]))
    path = MagnitudeProfile.from_tensors([big, tiny])
    cost = BlockCost("exact", None, None, 0, 0.0)
    rep = layer_shares(curvature, ["a", "b"], [big, tiny], path, 0.1, 0.5, cost)
    a, b = rep.layers
    assert b.sparsity_at_rho == 1.0 > COLLAPSE_SPARSITY and b.collapsed and not a.collapsed
    (line,) = rep.warnings
    assert "layer collapse" in line and " b " in line and "100.00 %" in line
    undefined = layer_shares(curvature, ["a", "b"], [big, tiny], path, None, None, cost)
    assert undefined.warnings == [] and undefined.layers[0].share_of_width is None
    assert undefined.layers[0].trace == pytest.approx(200.0)


def test_a_layer_all_zeros_already_is_not_flagged_as_collapsed():
    """Magnitude pruning at ρ* "removes" 100 % of a layer whose weights are all zero (zeros
    rank first), and the layer was flagged and warned about as collapsed: pruning that empties
    a layer breaks the network. Pruning leaves such a layer as it was; one it empties is
    still flagged."""
    gen = torch.Generator().manual_seed(0)
    big, dead, tiny = torch.randn(200, generator=gen), torch.zeros(20), 1e-4 * torch.randn(20, generator=gen)
    names = ["a", "dead", "b"]
    curvature = exact_block_curvature(torch.eye(240, dtype=torch.float64), parameter_blocks(names, [200, 20, 20],
                                                                                             names))
    rep = layer_shares(curvature, names, [big, dead, tiny], MagnitudeProfile.from_tensors([big, dead, tiny]), 0.1,
                       0.5, BlockCost("exact", None, None, 0, 0.0))
    a, d, b = rep.layers
    assert d.sparsity_at_rho == b.sparsity_at_rho == 1.0  # both end empty: the removed fraction is still reported
    assert not d.collapsed and not d.to_json()["collapsed"] and b.collapsed and not a.collapsed
    (line,) = rep.warnings
    assert " b " in line and "dead" not in line


def test_a_layer_pruned_before_is_not_flagged_when_pruning_removes_only_its_zeros():
    """A layer pruned before to 99.5 % (2 of 400 weights left, large ones): magnitude pruning at
    ρ* = 0.5 removes its 398 zeros (they rank first) and nothing else, so it computes as it did,
    yet it was flagged and warned about as emptied (the all-zeros exception missed it). Pruning
    that also takes one of its 2 weights leaves it 99.75 % sparse and is still flagged."""
    gen = torch.Generator().manual_seed(0)
    big = torch.randn(600, generator=gen)
    names = ["a", "b"]
    curvature = exact_block_curvature(torch.eye(1000, dtype=torch.float64), parameter_blocks(names, [600, 400],
                                                                                              names))
    cost = BlockCost("exact", None, None, 0, 0.0)
    for kept, flagged in ((torch.tensor([10.0, 10.0]), False), (torch.tensor([10.0, 1e-6]), True)):
        pruned_before = torch.cat([kept, torch.zeros(398)])
        rep = layer_shares(curvature, names, [big, pruned_before], MagnitudeProfile.from_tensors([big, pruned_before]),
                           0.1, 0.5, cost)
        a, b = rep.layers
        # 500 removed in all: b's 398 zeros first, then the smallest of a (and b's 1e-6 weight)
        assert b.sparsity_at_rho == (398 + flagged) / 400 > COLLAPSE_SPARSITY and not a.collapsed
        assert b.collapsed == b.to_json()["collapsed"] == flagged
        assert [" b " in line for line in rep.warnings] == ([True] if flagged else [])


def test_a_layer_collapsed_on_the_layer_wise_path_is_not_told_to_prune_layer_wise():
    """On the layer-wise path every layer loses ceil(ρ·n_l) weights, so a 3-weight layer is
    emptied at ρ* = 0.7; the warning told the user to prune layer-wise (--scope layer), the
    path that emptied it. It names the way out there: leaving the layer out."""
    from prunelimit.theory.profile import LayerwiseProfile

    gen = torch.Generator().manual_seed(0)
    big, small = torch.randn(200, generator=gen), torch.randn(3, generator=gen)
    curvature = exact_block_curvature(torch.eye(203, dtype=torch.float64), parameter_blocks(["a", "b"], [200, 3],
                                                                                             ["a", "b"]))
    cost = BlockCost("exact", None, None, 0, 0.0)
    rep = layer_shares(curvature, ["a", "b"], [big, small], LayerwiseProfile.from_tensors([big, small]), 0.1, 0.7,
                       cost, scope="layer")
    assert [layer.sparsity_at_rho for layer in rep.layers] == [0.7, 1.0]
    (line,) = rep.warnings
    assert " b " in line and "--exclude" in line and "--scope layer" not in line
    glob = layer_shares(curvature, ["a", "b"], [big, 1e-4 * small], MagnitudeProfile.from_tensors([big, 1e-4 * small]),
                        0.1, 0.7, cost)
    # on the global path the way out is layer-wise pruning, unless that empties the layer too:
    # ceil(0.7·3) = 3 of its 3 weights, so it is not offered here
    assert "--scope layer" not in glob.warnings[0] and "empties it too" in glob.warnings[0]
    wide = layer_shares(curvature, ["a", "b"], [big, 1e-4 * small], MagnitudeProfile.from_tensors([big, 1e-4 * small]),
                        0.1, 0.3, cost)
    assert "--scope layer" in wide.warnings[0]  # ceil(0.3·3) = 1 of 3 layer-wise: that keeps it


def test_cli_bounds_and_spectrum_per_layer_json(cli, own_ckpt, tmp_path):
    for command in ("bounds", "spectrum"):
        result = cli(command, own_ckpt, "--per-layer", "--json", "--max-samples", 300, "--method", "exact",
                     "--no-cache")
        assert result.exit_code == 0, result.stderr
        doc = json.loads(result.stdout)
        assert [item["name"] for item in doc["layers"]] == ["0.weight", "2.weight", REST]
        for item in doc["layers"]:
            assert FIELDS <= set(item)
            assert item["params"] > 0 and item["trace"] > 0 and item["lambda_max"] > 0
        assert doc["layer_curvature"]["method"] == "exact"
    plain = json.loads(cli("bounds", own_ckpt, "--json", "--max-samples", 300, "--no-cache").stdout)
    assert "layers" not in plain  # only on request


def test_every_per_layer_json_key_is_documented_and_every_documented_key_given(cli, own_ckpt):
    """The guide's `--per-layer` section names each key of a `layers[]` item (its table's first
    column) and of `layer_curvature` (its text), no more and no fewer: `name`, `prunable`,
    `width`, the trace's ± and `layer_curvature`'s ratio, radius, scope and steps were given
    but not documented."""
    import re
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[1] / "docs" / "guide.md").read_text(encoding="utf-8")
    section = guide.split("### Where the limit comes from: `--per-layer`", 1)[1].split("\n## ", 1)[0]
    table = re.findall(r"^\| (`[^|]*) \|", section, flags=re.M)
    documented = {key for cell in table for key in re.findall(r"`(\w+)`", cell)}
    text = section.split("`layer_curvature` in the JSON says which", 1)[1].split("a fixed plan", 1)[0]
    doc = json.loads(cli("bounds", own_ckpt, "--per-layer", "--json", "--max-samples", 300, "--method", "slq",
                         "--no-cache").stdout)
    assert {key for item in doc["layers"] for key in item} == documented
    assert set(doc["layer_curvature"]) <= set(re.findall(r"`(\w+)`", text))


def test_cli_per_layer_bases_keep_to_basis_memory(cli, own_ckpt):
    """The blocks' Lanczos bases keep to --basis-memory as the spectrum's do: in groups that
    fit (the same blocks), and a block whose bases alone do not fit is refused naming it."""
    args = ("bounds", own_ckpt, "--per-layer", "--json", "--max-samples", 300, "--method", "slq", "--no-cache")
    wide = json.loads(cli(*args).stdout)["layers"]
    # float32 bases of 2 probes × 32 steps: both Lanczos blocks padded to 768 weights take 393 KB,
    # 0.weight alone 197 KB
    grouped = cli(*args, "--basis-memory", 0.3)
    assert grouped.exit_code == 0, grouped.stderr
    for a, b in zip(wide, json.loads(grouped.stdout)["layers"], strict=True):
        assert a["name"] == b["name"] and b["trace"] == pytest.approx(a["trace"], rel=1e-6)
    refused = cli(*args, "--basis-memory", 0.15)
    assert refused.exit_code == 2 and refused.stdout == ""
    assert "per-layer curvature of 0.weight (768 weights)" in refused.stderr
    assert "use a larger --basis-memory or a narrower --basis-dtype" in refused.stderr


def test_cli_bounds_scope_layer_breaks_down_the_layer_wise_limit_prune_reuses(cli, own_ckpt, tmp_path):
    """`bounds --scope layer --per-layer`: ρ* on the layer-wise path, each layer's removed
    fraction there the one `prune --scope layer --ratio auto --from` then gives it."""
    args = ("--json", "--max-samples", 300, "--method", "exact", "--no-cache")
    result = cli("bounds", own_ckpt, "--scope", "layer", "--per-layer", *args)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    glob = json.loads(cli("bounds", own_ckpt, *args).stdout)
    assert doc["prediction"]["scope"] == doc["layer_curvature"]["scope"] == "layer"
    assert doc["prediction"]["ratio"] != pytest.approx(glob["prediction"]["ratio"], abs=1e-3)
    (tmp_path / "b.json").write_text(result.stdout)
    pruned = cli("prune", own_ckpt, "--scope", "layer", "--ratio", "auto", "--from", tmp_path / "b.json",
                 "--max-samples", 300, "-o", tmp_path / "p.pt", "--json")
    assert pruned.exit_code == 0, pruned.stderr
    zeros = {layer["name"]: layer["zeros"] for layer in json.loads(pruned.stdout)["layers"]}
    for item in doc["layers"]:
        if item["prunable"]:
            assert round(item["sparsity_at_rho"] * item["params"]) == zeros[item["name"]]
    shown = cli("bounds", own_ckpt, "--scope", "layer", "--max-samples", 300, "--method", "exact", "--no-cache")
    assert "predicted limit ρ* (layer-wise path)" in shown.stdout


def test_cli_per_layer_table_and_report(cli, own_ckpt, tmp_path):
    result = cli("bounds", own_ckpt, "--per-layer", "--max-samples", 300, "--method", "exact", "--no-cache",
                 "--report", tmp_path / "r")
    assert result.exit_code == 0, result.stderr
    assert "Per-layer curvature" in result.stdout and "2.weight" in result.stdout
    page = (tmp_path / "r" / "report.html").read_text()
    assert "<h2>Layers</h2>" in page and "share_of_width" in page
    assert 'alt="per-layer curvature and sparsity at ρ*"' in page


def test_verify_scope_layer_shows_the_layer_wise_prediction_beside_the_layer_wise_actual(cli, own_ckpt):
    result = cli("verify", own_ckpt, "--scope", "layer", "--max-samples", 300, "--method", "exact", "--no-cache")
    assert result.exit_code == 0, result.stderr
    assert "predicted ρ* (layer-wise path)" in result.stdout
    assert "actual (loss ≤ L + ε, layer-wise pruning)" in result.stdout


def test_a_model_with_an_empty_layer_gets_its_per_layer_breakdown():
    """``nn.Linear(16, 0)``: `bounds` failed in the regime check (a 0-row weight's fit) and
    `--per-layer` on its block of 0 weights; the empty layer has no curvature and loses nothing."""
    class WithEmpty(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.e, self.b = nn.Linear(8, 16), nn.Linear(16, 0), nn.Linear(16, 3)

        def forward(self, x):
            h = torch.relu(self.a(x))
            return self.b(h) + self.e(h).sum()

    torch.manual_seed(0)
    x, y = torch.randn(96, 8), torch.randint(0, 3, (96,))
    rep = prunelimit.bounds(WithEmpty(), (x, y), batch_size=32, per_layer=True)
    layers = {layer.name: layer for layer in rep.layers.layers}
    assert list(layers) == ["a.weight", "e.weight", "b.weight", REST]
    empty = layers["e.weight"]
    assert (empty.params, empty.trace, empty.width, empty.sparsity_at_rho, empty.collapsed) == (0, None, None, 0.0, False)
    # the blocks that exist still add up to the full trace
    assert _rel(sum(l.trace for l in layers.values() if l.trace is not None), rep.spectrum.trace) < 1e-6
