"""The actual-limit search against a 1,000-level sweep on curves that fail and recover.

The actual limit is the ratio just below the *smallest* failing grid ratio (docs/theory.md).
Where the criterion fails on a stretch of ratios, recovers and fails again higher up (an
excursion), the coarse scan can step over the stretch and land on the later crossing: on the
stand-in below (the loss fails on [0.300, 0.400) and from 0.700) the search reported 0.699
where the sweep's first crossing gives 0.299. The passes its scans leave of the budget now
look between their probes (``look_between``), and a curve seen to recover is stated
(``*_recovers``).

The stand-in's loss is a table indexed by the number of pruned weights (its 1,000 weights are
1/1000 … 1000/1000, so grid ratio ``i/1000`` prunes ``i``): any curve can be set exactly, and
the search and the sweep prune it as they prune any model.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.pruning.actual import DEFAULT_MAX_EVALUATIONS, actual_limit, keeps_accuracy, prune_curve

LEVELS = 1000
PASS, FAIL = 3.0, -1.0  # class-0 margins: cross-entropy 0.0025 (correct) and 2.13 (wrong)
BATCHES = [(torch.zeros(4, 1), torch.zeros(4, dtype=torch.long))]


class Table(nn.Module):
    """Logits ``(m, −m)`` with ``m = margins[number of zero weights]`` (label 0): cross-entropy
    ``softplus(−2m)``, correct where ``m > 0``. The tiny ``Σw²`` term only gives the weights a
    gradient path (verify computes a spectrum first); it moves ``m`` by at most 3.4e-4."""

    def __init__(self, margins: list[float]):
        super().__init__()
        n = len(margins) - 1
        self.lin = nn.Linear(n, 1, bias=False)
        with torch.no_grad():
            self.lin.weight.copy_(torch.arange(1, n + 1, dtype=torch.float32).unsqueeze(0) / n)
        self.register_buffer("margins", torch.as_tensor(margins, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.margins[(self.lin.weight == 0).sum()] + 1e-6 * (self.lin.weight**2).sum()
        return torch.stack([m, -m]).expand(x.shape[0], 2) + 0 * x[:, :1]


def _table(failing: set[int], fail: float = FAIL) -> Table:
    return Table([fail if i in failing else PASS for i in range(LEVELS + 1)])


def _swept_limits(model: nn.Module, epsilon: float) -> tuple[float, float]:
    """The 1,000-level sweep's answers: the grid ratio just below each criterion's first failure."""
    curve = prune_curve(model, BATCHES, cross_entropy_loss, [i / LEVELS for i in range(LEVELS)])
    loss = [not p.loss <= curve[0].loss + epsilon for p in curve]
    acc = [not keeps_accuracy(curve[0].accuracy, p.accuracy, 0.5) for p in curve]
    return ((f.index(True) - 1) / LEVELS if True in f else (LEVELS - 1) / LEVELS for f in (loss, acc))


def test_a_stretch_that_fails_below_the_crossing_gives_the_sweeps_limit():
    """Measured before the fix: 0.699 for both criteria, in 16 passes, nothing said."""
    model = _table(set(range(300, 400)) | set(range(700, LEVELS + 1)))
    found = actual_limit(model, BATCHES, cross_entropy_loss, 0.01)
    assert (found.loss_ratio, found.accuracy_ratio) == tuple(_swept_limits(model, 0.01)) == (0.299, 0.299)
    assert found.evaluations <= DEFAULT_MAX_EVALUATIONS
    # the search saw the curve recover above its failure: a measured point that passes again
    for again in (found.loss_recovers, found.accuracy_recovers):
        assert again is not None and 0.4 <= again < 0.7
        assert any(p.ratio == again and p.loss < found.dense_loss + 0.01 for p in found.probes)


@pytest.mark.parametrize("start", range(20, 560, 60))
def test_stretches_128_ratios_wide_anywhere_below_the_crossing_are_found(start):
    """A failing stretch 128 grid ratios wide below the last crossing (0.7) is one the budget's
    leftover passes reach wherever it starts (the coarse cells are 256 wide: their midpoints,
    then those of the halves; every 23rd start from 1 to 553 was found in a wider run). Before: the starts whose stretch holds no coarse probe (256, 512),
    20, 80, 260, 320 and 380, gave 0.699."""
    model = _table(set(range(start, start + 128)) | set(range(700, LEVELS + 1)))
    found = actual_limit(model, BATCHES, cross_entropy_loss, 0.01)
    assert found.loss_ratio == found.accuracy_ratio == (start - 1) / LEVELS
    assert found.evaluations <= DEFAULT_MAX_EVALUATIONS


def test_an_accuracy_only_excursion_moves_the_accuracy_limit_not_the_loss_one():
    """Margin −0.01: the class flips (accuracy 0) while the loss (0.70) stays within ε = 1, so
    only the accuracy criterion fails: on [0.150, 0.350) and from 0.800."""
    model = _table(set(range(150, 350)) | set(range(800, LEVELS + 1)), fail=-0.01)
    found = actual_limit(model, BATCHES, cross_entropy_loss, 1.0)
    assert not found.loss_crossed and found.loss_ratio == 0.999 and found.loss_recovers is None
    assert found.accuracy_ratio == 0.149 == tuple(_swept_limits(model, 1.0))[1]
    assert found.accuracy_recovers is not None and found.accuracy_recovers > 0.349


def test_a_narrow_excursion_is_found_by_a_sweep_of_every_grid_ratio():
    """Three failing ratios (0.300–0.302) fit between the leftover passes' probes: the search alone
    gives the later crossing (documented); ``sweep_points=1000`` measures every grid ratio, and
    the limit is then the sweep's."""
    model = _table({300, 301, 302} | set(range(700, LEVELS + 1)))
    assert actual_limit(model, BATCHES, cross_entropy_loss, 0.01).loss_ratio == 0.699
    swept = actual_limit(model, BATCHES, cross_entropy_loss, 0.01, sweep_points=LEVELS)
    assert swept.loss_ratio == swept.accuracy_ratio == 0.299
    assert swept.loss_recovers == swept.accuracy_recovers == 0.303  # the first sweep point past the stretch


def test_after_a_sweep_of_every_grid_ratio_the_note_does_not_ask_for_that_sweep():
    """The note on a curve that recovers told a `verify --sweep 1000` run that a failure below
    its limit "can have gone unseen; `verify --sweep 1000` measures every grid ratio": that
    sweep had measured every one, and the limit is its first failure. A smaller sweep (100
    points, of a curve that fails on [0.300, 0.400)) is still pointed to the full one."""
    model = _table({300, 301, 302} | set(range(700, LEVELS + 1)))
    (note, _) = actual_limit(model, BATCHES, cross_entropy_loss, 0.01, sweep_points=LEVELS).recovery_notes()
    assert note == ("the loss criterion fails above 29.90 % and passes again at 30.30 %: its curve is not monotone; "
                    "the sweep measured every grid ratio, so the limit is its first failure")
    stretch = _table(set(range(300, 400)) | set(range(700, LEVELS + 1)))
    partial = actual_limit(stretch, BATCHES, cross_entropy_loss, 0.01, sweep_points=100).recovery_notes()
    assert partial and all(n.endswith("`verify --sweep 1000` measures every grid ratio") for n in partial)


def test_a_library_caller_is_pointed_to_the_sweep_in_its_own_words():
    """A library gate on the measured limit listed "`verify --sweep 1000` measures every grid
    ratio" among its warnings: a keyword of the command line, not of ``prunelimit.verify``."""
    import prunelimit

    stretch = _table(set(range(300, 400)) | set(range(700, LEVELS + 1)))
    gated = prunelimit.gate(stretch, BATCHES[0], use="actual", min_ratio=0.0, epsilon=0.01)
    (note,) = [w for w in gated.warnings if "its curve is not monotone" in w]
    assert note.endswith("; prunelimit.verify(..., sweep=1000) measures every grid ratio"), note


def test_verify_states_a_curve_that_recovers_in_its_json_and_its_console(cli, tmp_path):
    model = _table(set(range(300, 400)) | set(range(700, LEVELS + 1)))
    torch.jit.save(torch.jit.script(model), str(tmp_path / "table.pt"))
    torch.save({"x": BATCHES[0][0], "y": BATCHES[0][1]}, tmp_path / "d.pt")
    args = ("verify", tmp_path / "table.pt", "--trust-pickle", "--data", f"tensors:{tmp_path / 'd.pt'}",
            "--epsilon", "0.01", "--method", "exact", "--threads", "1", "--no-cache")
    out = cli(*args, "--json")
    assert out.exit_code == 0, out.stderr
    actual = json.loads(out.stdout)["actual"]
    assert actual["loss_ratio"] == actual["accuracy_ratio"] == 0.299
    again = actual["loss_recovers"]
    assert again is not None and again == actual["accuracy_recovers"]
    shown = cli(*args)
    assert shown.exit_code == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "29.90 %" in next(line for line in shown.stdout.splitlines() if "actual (loss" in line)
    for name in ("loss", "accuracy"):
        assert (f"the {name} criterion fails above 29.90 % and passes again at {100 * again:.2f} %: its curve is "
                "not monotone") in text


def test_a_gate_on_the_measured_limit_warns_of_a_curve_that_recovers(cli, tmp_path):
    """``gate --use actual`` stands on the same search: its measured ratio is the sweep's, and
    the recovery is one of its warnings (JSON and console)."""
    model = _table(set(range(300, 400)) | set(range(700, LEVELS + 1)))
    torch.jit.save(torch.jit.script(model), str(tmp_path / "table.pt"))
    torch.save({"x": BATCHES[0][0], "y": BATCHES[0][1]}, tmp_path / "d.pt")
    args = ("gate", tmp_path / "table.pt", "--trust-pickle", "--data", f"tensors:{tmp_path / 'd.pt'}",
            "--epsilon", "0.01", "--use", "actual", "--min-ratio", "0.2", "--threads", "1", "--no-cache")
    doc = json.loads(cli(*args, "--json").stdout)
    assert doc["passed"] is True and doc["measured"] == 0.299
    assert doc["bounds"]["actual"]["loss_recovers"] is not None
    note = next(w for w in doc["warnings"] if w.startswith("the loss criterion fails above 29.90 %"))
    assert "not monotone" in note
    shown = cli(*args)
    assert shown.exit_code == 0, shown.stderr
    assert "the loss criterion fails above 29.90 % and passes again" in " ".join((shown.stdout + shown.stderr).split())


def test_verify_counts_the_sweeps_passes_beside_the_searchs(cli, tmp_path):
    """With ``--sweep 1000`` the console read "25 prune-and-evaluate passes in T s", T being the
    wall time of the search and the 1,000 sweep passes (JSON ``timing.search``), whose points
    also set the limits: it now counts them too. The sweep finds the three-ratio stretch the
    search alone steps over (0.299, not 0.699)."""
    model = _table({300, 301, 302} | set(range(700, LEVELS + 1)))
    torch.jit.save(torch.jit.script(model), str(tmp_path / "table.pt"))
    torch.save({"x": BATCHES[0][0], "y": BATCHES[0][1]}, tmp_path / "d.pt")
    args = ("verify", tmp_path / "table.pt", "--trust-pickle", "--data", f"tensors:{tmp_path / 'd.pt'}",
            "--epsilon", "0.01", "--method", "exact", "--threads", "1", "--no-cache", "--sweep", LEVELS)
    actual = json.loads(cli(*args, "--json").stdout)["actual"]
    assert actual["loss_ratio"] == 0.299 and len(actual["curve"]) == LEVELS
    shown = cli(*args)
    assert shown.exit_code == 0, shown.stderr
    # the sweep measures the grid ratios the search has not (it used to measure all 1,000 again)
    swept = LEVELS - len(actual["probes"])
    assert f"{actual['evaluations']} prune-and-evaluate passes and {swept:,} for --sweep in " in " ".join(shown.stdout.split())


def test_the_refit_search_looks_between_its_probes_too():
    """``verify --refit`` runs the same search over fine-tuned passes. At a vanishing learning
    rate fine-tuning leaves the stand-in as it is, so its limits are the one-shot ones: 0.299
    (0.699 before)."""
    from prunelimit.pruning.finetune import FinetuneConfig
    from prunelimit.pruning.refit import refit_limit

    model = _table(set(range(300, 400)) | set(range(700, LEVELS + 1)))
    refit = refit_limit(model, BATCHES, cross_entropy_loss, 0.01, FinetuneConfig(epochs=1, lr=1e-30))
    assert (refit.loss_ratio, refit.accuracy_ratio) == (0.299, 0.299)
    assert refit.evaluations <= DEFAULT_MAX_EVALUATIONS


def test_the_refit_search_states_a_curve_that_recovers():
    """``refit_limit`` runs ``look_between`` too, so it sees the stretch fail and the curve pass
    again above it; it had no ``*_recovers`` to say so (``ActualLimit`` had)."""
    from prunelimit.pruning.finetune import FinetuneConfig
    from prunelimit.pruning.refit import refit_limit

    model = _table(set(range(300, 400)) | set(range(700, LEVELS + 1)))
    refit = refit_limit(model, BATCHES, cross_entropy_loss, 0.01, FinetuneConfig(epochs=1, lr=1e-30))
    for again in (refit.loss_recovers, refit.accuracy_recovers):
        assert again is not None and 0.4 <= again < 0.7
        assert any(p.ratio == again and p.loss < refit.points[0].loss + 0.01 and p.accuracy == 1.0 for p in refit.points)
    notes = refit.recovery_notes()
    assert len(notes) == 2 and notes[0].startswith("after 1 fine-tuning epoch, the loss criterion fails above 29.90 %")


def test_verify_states_recovering_curves_in_its_html_report_and_its_refit(cli, tmp_path):
    """``verify --refit --report``: the refit's JSON has ``loss_recovers``/``accuracy_recovers``
    and the console a line for each; the HTML report shows every such line, the one-shot
    search's too, in the console's words (it showed none)."""
    model = _table(set(range(300, 400)) | set(range(700, LEVELS + 1)))
    torch.jit.save(torch.jit.script(model), str(tmp_path / "table.pt"))
    torch.save({"x": BATCHES[0][0], "y": BATCHES[0][1]}, tmp_path / "d.pt")
    args = ("verify", tmp_path / "table.pt", "--trust-pickle", "--data", f"tensors:{tmp_path / 'd.pt'}",
            "--epsilon", "0.01", "--method", "exact", "--threads", "1", "--no-cache", "--refit",
            "--finetune-epochs", "1", "--finetune-lr", "1e-30")
    out = cli(*args, "--json")
    assert out.exit_code == 0, out.stderr
    doc = json.loads(out.stdout)
    refit = doc["refit"]
    assert refit["loss_ratio"] == 0.299 and refit["loss_recovers"] is not None
    assert refit["accuracy_recovers"] == refit["loss_recovers"]
    shown = cli(*args, "--report", tmp_path / "rep")
    assert shown.exit_code == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    page = (tmp_path / "rep" / "report.html").read_text()
    lines = [f"the {name} criterion fails above 29.90 % and passes again at {100 * again:.2f} %: its curve is "
             "not monotone" for name in ("loss", "accuracy") for again in (doc["actual"][f"{name}_recovers"],)]
    lines += [f"after 1 fine-tuning epoch, the {name} criterion fails above 29.90 % and passes again at "
              f"{100 * refit[name + '_recovers']:.2f} %" for name in ("loss", "accuracy")]
    for line in lines:
        assert line in text and line in page
    assert "`verify --sweep 1000` measures every grid ratio" in page
