"""The law reports' HTML page states its numbers as the console does (``law nplh``: α0 and R²
to four decimals, c to four digits; ``law error-fit``: the parameters to four digits, the
relative errors and the predicted error in %; ``imp``'s levels and ``hyperflux``'s epochs as
their console lines), not to six significant digits; the All values table keeps every digit."""

import re

import numpy as np

from prunelimit.laws.errorlaw import ErrorPoints, error_law, fit_error_law
from prunelimit.laws.nplh import fit_nplh
from prunelimit.laws.points import LawPoints
from prunelimit.report.console import fmt, pct
from prunelimit.report.html import render_html


def _summary(text: str) -> dict[str, str]:
    table = text.partition("<h2>Summary</h2>")[2].partition("</table>")[0]
    return dict(re.findall(r"<tr><td>([^<]*)</td><td class=num>([^<]*)</td></tr>", table))


def _grid(text: str, title: str) -> list[list[str]]:
    table = text.partition(f"<h2>{title}</h2>")[2].partition("</table>")[0]
    return [re.findall(r"<td class=num>([^<]*)</td>", row) for row in table.split("<tr>")[2:]]


def test_the_nplh_summary_rounds_as_the_console():
    gamma = np.geomspace(1e-3, 1e2, 40)
    noise = np.random.default_rng(0).normal(0, 0.02, gamma.size)
    law = fit_nplh(LawPoints.from_arrays(0.01 * gamma ** -0.5 * np.exp(noise), gamma)).to_json()
    shown = _summary(render_html("law-nplh", law, {}, ["p"]))
    assert shown["law exponent α0"] == f"{law['alpha0']:.4f}"  # console: α0 0.5012 [..]
    assert shown["law constant c"] == f"{law['c']:.4g}"
    assert shown["fit R²"] == f"{law['r2']:.4f}"
    # α0's interval to four decimals as the console prints it ([2.2935, 2.3030], not .4g's [2.293, 2.303])
    near = np.geomspace(0.15, 5.0, 40)  # densities 0.8 down to 2.5e-4
    steep = fit_nplh(LawPoints.from_arrays(0.01 * near ** -2.3 * np.exp(noise), near), region=(1e-6, 1.0)).to_json()
    low, high = steep["alpha0_ci"]
    assert low > 1
    assert _summary(render_html("law-nplh", steep, {}, ["p"]))["95 % interval of α0"] == f"[{low:.4f}, {high:.4f}]"


def test_the_error_fit_summary_rounds_as_the_console():
    d = np.geomspace(1e-3, 1.0, 20)
    body = fit_error_law(ErrorPoints(d, error_law(d, 0.05, 0.9, 2.0, 0.01) * (1 + 0.02 * np.sin(7 * d)))).to_json()
    body["predict"] = {"density": 0.05, "error": 0.0812345678}
    body["target"] = {"error": 0.1, "density": 0.0412345678}
    shown = _summary(render_html("law-error-fit", body, {}, ["p"]))
    for key, label in (("eps_np", "ε_np (low-error plateau, dense error)"), ("eps_up", "ε_up (high-error plateau)"),
                       ("gamma", "γ (power-law slope)"), ("p", "p (transition density to the high-error plateau)")):
        assert shown[label] == fmt(body["params"][key])
    assert shown["mean relative fit error"] == pct(body["fit"]["mean_rel_error"])
    assert shown["std of the relative fit error"] == pct(body["fit"]["std_rel_error"])
    assert shown["leave-one-out |relative error| (mean)"] == pct(body["fit"]["loo_mean_abs_rel_error"])
    # each answer beside its question, as the console's "predicted error at density 5.00 %: 8.12 %" and
    # "density reaching error 10.00 %: 4.12 %" (the page had the answers alone; densities and the
    # target error were fractions beside errors in %)
    assert shown["density of the prediction (--predict)"] == "5.00 %"
    assert shown["predicted error"] == pct(0.0812345678) == "8.12 %"
    assert shown["target error (--target-error)"] == "10.00 %"
    assert shown["density reaching the target error"] == pct(0.0412345678) == "4.12 %"


def test_the_joint_error_fit_summary_states_phi_and_psi():
    """The console prints the joint law's φ and ψ with their intervals; the page had neither."""
    rng = np.random.default_rng(1)
    rows = []
    for width, depth in ((8, 2), (16, 2), (16, 3), (32, 3)):
        d = np.geomspace(0.005, 1.0, 12)
        m = depth ** 0.5 * width ** 0.8 * d
        rows += [(x, e, width, depth) for x, e in zip(d, error_law(m, 0.05, 0.9, 1.8, 0.3) * rng.lognormal(0, 0.01, d.size))]
    body = fit_error_law(ErrorPoints(*map(np.array, zip(*rows))), joint=True).to_json()
    shown = _summary(render_html("law-error-fit", body, {}, ["p"]))
    for key, name in (("phi", "φ"), ("psi", "ψ")):
        assert shown[f"{name} ({'depth' if key == 'phi' else 'width'} exponent, joint law)"] == fmt(body["params"][key])
        low, high = body["intervals"][key]
        assert shown[f"95 % interval of {name}"] == f"[{low:.4g}, {'unbounded' if high is None else f'{high:.4g}'}]"


def test_the_levels_and_epochs_grids_round_as_the_console():
    rows = [{"level": 0, "density": 1.0, "error": 0.0312345678, "loss": 0.123456789, "width": 64, "depth": 2,
             "evaluated_on": "eval_data"},
            {"level": 1, "density": 0.8, "error": 0.0412345678, "loss": 0.1456789012, "width": 64, "depth": 2,
             "evaluated_on": "eval_data"}]
    grid = _grid(render_html("imp", {"density": 0.8, "rows": rows}, {}, ["p"]), "Levels")
    # console: level, density %, error %, loss .4g
    assert grid[1] == ["1", "80.00 %", "4.12 %", "0.1457", "64", "2", "eval_data"]
    log = [{"epoch": 1, "phase": "prune", "pressure": 0.0123456789, "density": 0.7123456789, "target": 0.70123456,
            "loss": 0.3456789012},
           {"epoch": 2, "phase": "regrow", "pressure": 0.0, "density": 0.5, "target": None, "loss": 0.25}]
    grid = _grid(render_html("hyperflux", {"density": 0.5, "log": log}, {}, ["p"]), "Epochs")
    assert grid == [["1", "prune", "0.01235", "71.23 %", "70.12 %", "0.3457"], ["2", "regrow", "0", "50.00 %", "—", "0.25"]]


def test_the_hyperflux_summary_states_the_losses_and_a_pruned_start_as_the_console():
    """The console prints "Hyperflux: density 20.00 % from 50.00 % (requested …)" for a pruned
    start and "before: loss 2.35 · accuracy …" (losses to four significant digits, rounding.loss_text);
    the page had neither the start nor the losses."""
    body = {"requested_density": 0.2, "start_density": 0.5, "density": 0.2,
            "before": {"loss": 2.350212345, "accuracy": 0.1035}, "after": {"loss": 1.841812345, "accuracy": 0.6934}}
    shown = _summary(render_html("hyperflux", body, {}, ["p"]))
    assert shown["density started from (a pruned start)"] == "50.00 %"
    assert shown["loss before pruning"] == "2.35" and shown["loss after pruning"] == "1.842"
    dense = _summary(render_html("hyperflux", {**body, "start_density": 1.0}, {}, ["p"]))
    assert "density started from (a pruned start)" not in dense  # as the console: no "from 100.00 %"


def test_the_prune_summary_states_its_losses_as_the_console():
    """prune's console prints "before: loss 0.1027 · …", "after: …" and "after fine-tuning: …"."""
    body = {"before": {"loss": 0.102712345, "accuracy": 0.97}, "after": {"loss": 0.2512345, "accuracy": 0.9},
            "finetuned": {"loss": 0.1301234, "accuracy": 0.95}}
    shown = _summary(render_html("prune", body, {}, ["p"]))
    assert (shown["loss before pruning"], shown["loss after pruning"], shown["loss after fine-tuning"]) == \
        ("0.1027", "0.2512", "0.1301")
