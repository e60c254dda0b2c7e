"""``law error-fit --joint`` on the console states each network's fitted dense error ε_np, as
``--json`` does: the table gave only ε↑, γ, p, φ and ψ, so the ε_np a query of a fitted network
answers with, and the one ``--eps-np`` stands in for, were in the JSON alone."""

from __future__ import annotations

import json

import numpy as np

from prunelimit.laws.errorlaw import error_law
from prunelimit.report.console import fmt


def test_joint_console_states_every_networks_eps_np(tmp_path, cli):
    rng = np.random.default_rng(7)  # 2 widths × 2 depths × 7 densities of the joint law, 1 % noise
    rows = []
    for width in (16.0, 32.0):
        for depth in (2.0, 4.0):
            d = np.geomspace(1, 1e-4, 7)
            e = error_law(depth ** 0.5 * width * d, 0.05 / depth, 0.9, 2.0, 0.5) * (1 + 0.01 * rng.standard_normal(7))
            rows += [f"{x!r},{min(y, 1.0)!r},{width:g},{depth:g}\n" for x, y in zip(d.tolist(), e.tolist())]
    path = tmp_path / "joint.csv"
    path.write_text("density,error,width,depth\n" + "".join(rows))
    networks = json.loads(cli("law", "error-fit", path, "--joint", "--json").stdout)["params"]["eps_np"]
    shown = cli("law", "error-fit", path, "--joint").stdout
    assert len(networks) == 4
    for network in networks:
        line = next(line for line in shown.splitlines()
                    if f"width {network['width']:g} × depth {network['depth']:g}" in line)
        assert f" {fmt(network['eps_np'])} " in line
