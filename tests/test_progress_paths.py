"""Every long path of the CLI reports its work to a progress bar: recorded here through the
bar's ``advance`` (a fake sink) rather than read off a terminal."""

from __future__ import annotations

import contextlib

import pytest


@pytest.fixture
def bars(monkeypatch):
    """The bars the CLI shows (without --json): ``{description: [(done, total), …]}``."""
    from prunelimit.cli import laws, limit, pruning

    seen: dict[str, list[tuple[int, int | None]]] = {}

    @contextlib.contextmanager
    def recording(description, total, enabled=True):
        calls = seen.setdefault(description, []) if enabled else []
        yield lambda n=1, total=None, text=None, absolute=False: calls.append((n, total))

    for module in (laws, limit, pruning):
        monkeypatch.setattr(module, "progress", recording, raising=False)
    return seen


def test_prune_counts_its_fine_tuning_and_opens_no_curvature_bar_for_a_given_ratio(cli, own_ckpt, tmp_path, bars):
    """`prune --finetune-epochs N` trained with no bar at all, and a given --ratio, which
    needs no spectrum, drew an empty 'curvature 0/?' bar meanwhile."""
    result = cli("prune", own_ckpt, "--ratio", "0.5", "--finetune-epochs", "2", "--max-samples", "256",
                 "--batch-size", "64", "-o", tmp_path / "pruned.pt")
    assert result.exit_code == 0, result.stderr
    assert "curvature" not in bars
    done, steps = bars["fine-tuning"][-1]
    assert done == steps >= 2 and [n for n, _ in bars["fine-tuning"]] == list(range(1, steps + 1))


def test_imp_counts_its_levels(cli, tmp_path, bars):
    """`imp` trained level after level (minutes each on a real model) with no bar at all."""
    result = cli("imp", "mlp:64,16,10", "--data", "digits:train", "--max-samples", "128", "--levels", "2",
                 "--epochs", "1", "-o", tmp_path / "imp")
    assert result.exit_code == 0, result.stderr
    assert bars["IMP levels"] == [(1, 3), (2, 3), (3, 3)]  # level 0 (dense), then 2 pruning levels


def test_hyperflux_counts_its_epochs(cli, tmp_path, bars):
    """`hyperflux` trained its pressure and regrowth epochs (50 by default) with no bar at all."""
    result = cli("hyperflux", "--model", "mlp:64,16,10", "--data", "digits:train", "--max-samples", "128",
                 "--target-density", "0.5", "--pruning-epochs", "3", "--regrowth-epochs", "1",
                 "-o", tmp_path / "hf.pt")
    assert result.exit_code == 0, result.stderr
    assert bars["Hyperflux epochs"] == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_the_library_hyperflux_reports_its_epochs_as_train_and_imp_do():
    """`prunelimit.hyperflux(...)` took no progress callback (train and imp did): a notebook
    had no way to follow its 50 default epochs."""
    import torch

    import prunelimit
    from prunelimit.errors import OptionError

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    data = (torch.randn(64, 64), torch.arange(64) % 10)
    seen = []
    prunelimit.hyperflux(model, data, 0.5, pruning_epochs=3, regrowth_epochs=1,
                         progress=lambda epoch, epochs: seen.append((epoch, epochs)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    with pytest.raises(OptionError, match="^progress must be a function or None, got int 3"):
        prunelimit.hyperflux(model, data, 0.5, progress=3)
