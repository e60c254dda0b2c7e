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
