"""``prune`` that empties a layer (over 99 % of its weights removed, some of them non-zero)
warns as ``bounds --per-layer`` flags it: one warning line per such layer on stderr, in the
JSON's ``warnings`` and its ``layers[].collapsed``, and on the ``--report`` page; so does the
library's ``prunelimit.prune``. It said nothing, though a layer of 200 weights ended all zeros.
A layer pruning leaves as it was (all zeros already) is not flagged, as there."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

import prunelimit
from prunelimit.cli import app
from prunelimit.models.zoo import mlp


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _tiny_last_layer() -> torch.nn.Module:
    """An MLP 30-20-10 whose last layer (200 weights) is 1000× smaller than the first (600): global
    pruning to 0.9 removes ceil(0.9·800) = 720, the 200 of the last layer among them."""
    torch.manual_seed(0)
    model = mlp([30, 20, 10])
    with torch.no_grad():
        model[2].weight.mul_(1e-3)
    return model


def _collapse_lines(warnings) -> list[str]:
    return [w for w in warnings if w.startswith("layer collapse")]


def test_the_library_warns_of_the_layer_global_pruning_empties():
    pruning = prunelimit.prune(_tiny_last_layer(), 0.9)
    assert [layer.zeros for layer in pruning.layers] == [520, 200]
    [line] = _collapse_lines(pruning.warnings)
    assert " 2.weight " in line and "100.00 %" in line and "prune layer-wise: scope='layer'" in line
    # 160 removed, all from the small layer: 80 % of it, not emptied
    assert _collapse_lines(prunelimit.prune(_tiny_last_layer(), 0.2).warnings) == []


def test_a_layer_zero_already_is_not_flagged():
    model = _tiny_last_layer()
    with torch.no_grad():
        model[2].weight.zero_()
    assert _collapse_lines(prunelimit.prune(model, 0.9).warnings) == []


def test_on_the_layer_wise_path_the_way_out_is_to_leave_the_layer_out():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(30, 20), torch.nn.ReLU(), torch.nn.Linear(20, 1, bias=False))
    with torch.no_grad():
        model[2].weight[0, :19] = 0.0  # 1 weight of 20 left
    pruning = prunelimit.prune(model, 0.96, scope="layer")  # ceil(0.96·20) = 20: the last one goes too
    [line] = _collapse_lines(pruning.warnings)
    assert " 2.weight " in line and "leave it out with exclude=" in line and "scope='layer'" not in line


def test_the_command_line_says_it_in_the_console_json_and_report(tmp_path):
    torch.save(_tiny_last_layer().state_dict(), tmp_path / "tiny.pt")
    common = ("--model", "mlp:30,20,10", "--ratio", 0.9, "--threads", 1)
    result = run("prune", tmp_path / "tiny.pt", *common, "-o", tmp_path / "p.pt", "--json",
                 "--report", tmp_path / "report")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    [line] = _collapse_lines(doc["warnings"])
    assert [layer["collapsed"] for layer in doc["layers"]] == [False, True]
    assert "layer collapse" in result.stderr and "2.weight" in result.stderr
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "layer collapse" in page
    console = run("prune", tmp_path / "tiny.pt", *common, "-o", tmp_path / "q.pt")
    assert console.exit_code == 0, console.output
    assert "collapse" in console.stdout and "layer collapse" in console.stderr


def test_the_way_out_is_not_layer_wise_pruning_where_that_empties_the_layer_too():
    """At 0.999 layer-wise pruning removes ceil(0.999·200) = 200 of the small layer's 200 weights
    as well: telling the user to prune layer-wise sent them to a path that empties it too."""
    lines = _collapse_lines(prunelimit.prune(_tiny_last_layer(), 0.995).warnings)
    [line] = [line for line in lines if " 2.weight " in line]
    assert "scope='layer'" not in line and "layer-wise pruning" in line and "leave it out with exclude=" in line
    [line] = _collapse_lines(prunelimit.prune(_tiny_last_layer(), 0.9).warnings)
    assert "prune layer-wise: scope='layer'" in line  # ceil(0.9·200) = 180 of 200 layer-wise: that keeps it


def test_the_report_figure_hatches_the_emptied_layer():
    """As ``bounds --per-layer``'s figure hatches a collapsed layer, so does prune's."""
    from prunelimit.report.figures import sparsity_figure

    pruning = prunelimit.prune(_tiny_last_layer(), 0.9)
    fig = sparsity_figure(pruning.layers, pruning.collapsed)
    hatched = [patch for patch in fig.axes[0].patches if patch.get_hatch() == "//"]
    assert [round(patch.get_y() + patch.get_height() / 2) for patch in hatched] == [1]  # the bar of 2.weight
    assert not [p for p in sparsity_figure(pruning.layers).axes[0].patches if p.get_hatch()]


def test_a_prediction_that_flags_the_layer_is_not_warned_twice():
    """Pruning by a ``bounds --per-layer`` result (``--from`` its report) carried its collapse
    line beside prune's own for the same layer: two near-identical warnings. Prune's, on what it
    pruned, stays alone."""
    torch.manual_seed(0)
    model = mlp([8, 6, 3])
    with torch.no_grad():
        model[2].weight.mul_(1e-3)
    data = (torch.randn(64, 8), torch.randint(0, 3, (64,)))
    rep = prunelimit.bounds(model, data, per_layer=True, method="exact", batch_size=16)
    assert [w for w in _collapse_lines(rep.warnings) if " 2.weight " in w]  # the case: the prediction flags it
    pruning = prunelimit.prune(model, "auto", data, prediction_from=rep, batch_size=16)
    assert pruning.collapsed == ("2.weight",)
    [line] = _collapse_lines(pruning.warnings)
    assert line.startswith(f"layer collapse: magnitude pruning to {100 * rep.ratio:.2f} %")
