"""``law nplh --mode pressure --metric taylor`` ran the pressure ladder, which ranks no
saliency (a point's gamma is its pressure Γ), and recorded "metric taylor" beside its points
(CSV column, JSON ``measured``, "points measured with metric taylor, mode pressure"): a
setting that changed nothing, named as what measured them. ``--metric`` with ``--mode
pressure`` is now refused before any work, as another mode's settings are, and the pressure
mode's points record no metric."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.errors import OptionError
from prunelimit.laws.nplh import NplhConfig


@pytest.mark.parametrize("args", [["--metric", "taylor"], ["--metric", "magnitude"]])  # typed: even the default
def test_the_command_refuses_a_metric_for_the_pressure_mode(cli, args):
    result = cli("law", "nplh", "no-such-checkpoint.pt", "--mode", "pressure", *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "--metric applies to --mode static or iterative, not pressure" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_command_refuses_it_from_a_config_file(cli, tmp_path):
    (tmp_path / "c.yaml").write_text("mode: pressure\nmetric: taylor\n")
    result = cli("law", "nplh", "no-such-checkpoint.pt", "--config", tmp_path / "c.yaml")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "metric in " in result.stderr and "applies to --mode static or iterative, not pressure" in result.stderr


def test_the_library_refuses_it_naming_its_keyword():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    data = (torch.randn(32, 8), torch.arange(32) % 3)
    with pytest.raises(OptionError, match=r"^metric applies to mode='static' or iterative, not pressure"):
        prunelimit.nplh(model, data, mode="pressure", metric="taylor")


def test_the_pressure_points_record_no_metric():
    assert dict(NplhConfig(mode="pressure").measured()) == {"mode": "pressure", "seed": 0, "epochs_per_level": 3}
    assert dict(NplhConfig(mode="static", metric="taylor").measured())["metric"] == "taylor"
