"""The tolerance warning states ρ* and its ± as the headline line beside it does: it read
"ρ* = 0.9187 ± 0.0198 is not within the tolerance 0.01" under "ρ* = 91.87 % ± 2.0 pt (…)",
one quantity in two units on consecutive lines."""

from __future__ import annotations

import json
import re

from prunelimit.report.rounding import estimate_text

RUN = ("--runs", "2", "--iterations", "10", "--max-samples", "300", "--no-cache", "--threads", "1")


def test_the_tolerance_warning_states_rho_as_the_headline(cli, own_ckpt, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # each line whole
    shown = cli("bounds", own_ckpt, *RUN)
    assert shown.exit_code == 0, shown.stderr
    doc = json.loads(cli("bounds", own_ckpt, *RUN, "--json").stdout)
    headline = re.search(r"^ρ\* = (\S+ % ± \S+ pt) \(", shown.stdout, re.M)
    warned = re.search(r"ρ\* = (\S+ % ± \S+ pt) is not within the tolerance 0\.01 \(1 pt\)", shown.stdout)
    assert headline and warned, shown.stdout
    ratio, plus_minus = doc["prediction"]["ratio"], doc["prediction"]["uncertainty"]["plus_minus"]
    assert warned[1] == headline[1] == estimate_text(ratio, plus_minus)


def test_the_consistency_warnings_state_rho_in_percent_as_the_table() -> None:
    """``INCONSISTENT: ρ* = 0.6920 lies below its lower bound ρ_L ([ρ_L, ρ_U] = [0.7480, 0.8690])``
    stood under a table of ``69.20 %``, ``74.80 %`` and ``86.90 %``; now it states them so, the
    gaps in points as ρ*'s ±."""
    from prunelimit.report.console import pct
    from prunelimit.theory.consistency import consistency_warnings

    below, apart = consistency_warnings(0.692, 0.748, 0.869, 0.809, 0.0)
    assert re.findall(r"\d+\.\d+ %", below)[:3] == [pct(0.692), pct(0.748), pct(0.869)]
    assert re.findall(r"\d+\.\d+ %", apart) == [pct(0.692), pct(0.809)] and "differ by 11.70 pt" in apart
    # a ρ* just under its bound is shown apart from it, never as the bound itself
    (close,) = consistency_warnings(0.747996, 0.748, 0.869, 0.747996, 0.0)
    shown = re.findall(r"(\d+\.\d+) %", close)
    assert shown[0] != shown[1] and float(shown[0]) < float(shown[1])


def test_the_half_steps_warning_states_the_move_in_points() -> None:
    """A fixed plan's "ρ* moved by 0.012 between 40 and 80 Lanczos steps" stood under ρ*'s
    "± 0.62 pt"; the move is in points too."""
    from types import SimpleNamespace

    from prunelimit.api.limit import _bounds_warnings
    from prunelimit.api.options import CurvatureOptions

    spec = SimpleNamespace(notes=(), loss=0.1, solver="slq", stopped_by=None, params_hessian=10, iterations=80,
                           lambda_max=1.0, lambda_min=0.0, gradient_norm=0.0, negative_mass=None, choice=None)
    u = SimpleNamespace(steps_kind="half-steps", plus_minus=0.005)
    warns = _bounds_warnings(spec, None, 0.9, 1.0, 0.888, 0.05, CurvatureOptions(), None, u)
    assert [w for w in warns if w.startswith("ρ* moved by 1.2 pt between 40 and 80 Lanczos steps")], warns
