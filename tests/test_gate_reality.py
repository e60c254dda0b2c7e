"""Numbers a CI job can stand on (issue 21): threads, self-consistency, compatible
baselines, the regime statement, and gating on the measured limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import prunelimit
from prunelimit.api.limit import UNCONVERGED_GRADIENT
from prunelimit.theory.consistency import consistency_warnings
from prunelimit.threads import idle_cores

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits-mlp.pt"


def _doc(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# --------------------------------------------------------------------------- --threads


@pytest.mark.parametrize("cores, load, expected", [(2, 0.0, 2), (2, 1.4, 1), (2, 3.9, 1), (8, 2.5, 6), (1, 0.0, 1)])
def test_default_threads_are_the_idle_cores(cores, load, expected):
    assert idle_cores(cores, load) == expected


def test_threads_option_sets_torch_threads(cli):
    try:
        _doc(cli("info", EXAMPLE, "--threads", "2", "--json"))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


def test_threads_option_sets_numpys_blas_threads(cli):
    """The Lanczos bracket's NumPy products ran on one BLAS thread per core whatever --threads said."""
    from threadpoolctl import threadpool_info, threadpool_limits

    before = threadpool_limits(limits=2, user_api="blas")  # what an idle 2-core machine starts with
    try:
        _doc(cli("info", EXAMPLE, "--threads", "1", "--json"))
        blas = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
        assert blas and set(blas) == {1}
    finally:
        before.restore_original_limits()
        torch.set_num_threads(1)


@pytest.mark.parametrize("command", [("info", EXAMPLE), ("law", "error-fit", "missing.csv")])
def test_threads_out_of_range_is_a_usage_error(cli, command):
    result = cli(*command, "--threads", "0")
    assert result.exit_code == 2
    assert "--threads must be at least 1" in result.stderr


# --------------------------------------------------------------------------- consistency


def test_ratio_inside_bounds_and_agreeing_is_quiet():
    assert consistency_warnings(0.8, 0.7, 0.9, 0.801, 0.0) == []


def test_ratio_below_its_lower_bound_is_flagged():
    # the CNN of issue 21: paper ρ* 69.2 % with [74.8 %, 86.9 %], continuous 80.9 %
    warns = consistency_warnings(0.692, 0.748, 0.869, 0.809, 0.0)
    assert len(warns) == 2
    assert "below its lower bound" in warns[0] and "INCONSISTENT" in warns[0]
    assert "differ by 11.70 pt" in warns[1]  # points, as ρ*'s ± (was the fraction 0.1170)


def test_gap_within_the_stated_uncertainty_is_not_flagged():
    assert consistency_warnings(0.80, 0.7, 0.9, 0.83, 0.04) == []
    assert len(consistency_warnings(0.80, 0.7, 0.9, 0.85, 0.04)) == 1


def test_the_gap_allowed_is_named_as_what_it_is():
    """Below the 0.005 floor the warning called the floor "the stated ± 0.0050" though the
    stated ± was 0.0002; it names the floor and the ± apart, and a ± above it as itself (in
    points, as ρ*'s line states its ±)."""
    (floor,) = consistency_warnings(0.80, 0.7, 0.9, 0.81, 0.0002)
    assert "more than 0.50 pt (the floor; the stated ± is 0.020 pt)" in floor
    (stated,) = consistency_warnings(0.80, 0.7, 0.9, 0.85, 0.04)
    assert "more than the stated ± 4.0 pt" in stated


def test_bounds_flags_a_ratio_outside_its_own_bounds(cli, monkeypatch):
    """The check is wired into every ``bounds`` result: bounds shifted above ρ* (as the
    reference arithmetic did on a CNN) give a loud warning in the JSON and on the console."""
    import dataclasses

    from prunelimit.theory import limit

    real = limit.predict_from_quadrature

    def shifted(*args, **kwargs):
        p = real(*args, **kwargs)
        return dataclasses.replace(p, lower=p.ratio + 0.05, upper=p.ratio + 0.1)

    monkeypatch.setattr(limit, "predict_from_quadrature", shifted)
    doc = _doc(cli("bounds", EXAMPLE, "--json"))
    assert any(w.startswith("INCONSISTENT: ρ*") and "below its lower bound ρ_L" in w for w in doc["warnings"])
    console = cli("bounds", EXAMPLE)
    assert "INCONSISTENT" in console.stdout


def _fake_report(path: Path, ratio: float) -> Path:
    """A bounds report of the example predicting ``ratio``, with what every reader of --from
    needs (no record of its weights or data: taken as computed for this model, with a warning)."""
    path.write_text(json.dumps({
        "schema": "prunelimit.bounds/1", "epsilon": 0.0173, "params": {"hessian": 2410}, "spectrum": {"trace": 22.0},
        "prediction": {"ratio": ratio, "density": 1 - ratio, "radius": 1.5, "scope": "global"},
        "bounds": {"lower": ratio, "lower_density": 1 - ratio}}))
    return path


def test_prune_auto_reports_an_accuracy_drop_beyond_acc_drop(cli, tmp_path):
    report = _fake_report(tmp_path / "b.json", 0.97)
    out = tmp_path / "p.pt"
    doc = _doc(cli("prune", EXAMPLE, "--ratio", "auto", "--from", report, "-o", out, "--json"))
    assert doc["after"]["accuracy_drop"] == pytest.approx(100 * (doc["before"]["accuracy"] - doc["after"]["accuracy"]))
    assert doc["after"]["accuracy_drop"] > 0.5
    assert doc["acc_drop_exceeded"] is True and doc["acc_drop"] == 0.5
    strict = cli("prune", EXAMPLE, "--ratio", "auto", "--from", report, "-o", tmp_path / "s.pt", "--strict")
    assert strict.exit_code == 1
    assert "more than --acc-drop 0.5" in strict.stderr
    assert (tmp_path / "s.pt").is_file()  # the pruned file is still written: the verdict is about its quality


def test_the_acc_drop_warning_is_in_the_json_and_the_html_report_as_on_the_console(cli, tmp_path):
    """`prune --ratio auto` past --acc-drop printed its warning (what the ratio was, what it lost,
    what to do) on stderr only: `--report` showed no such warning and `--json` listed none. It is
    now one of the report's warnings: on stderr once, in the JSON and in the page's Warnings."""
    from html import escape

    report = _fake_report(tmp_path / "b.json", 0.97)
    run = cli("prune", EXAMPLE, "--ratio", "auto", "--from", report, "-o", tmp_path / "p.pt", "--report",
              tmp_path / "r")
    assert run.exit_code == 0, run.stderr
    said = [line for line in run.stderr.splitlines() if "more than --acc-drop 0.5" in line]
    assert len(said) == 1 and said[0].startswith("prunelimit: warning: ρ* = 97.00 %"), run.stderr
    warning = said[0].removeprefix("prunelimit: warning: ")
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    listed = page.split("<h2>Warnings</h2>", 1)[1].split("</ul>", 1)[0]
    assert f"<li>{escape(warning)}</li>" in listed
    doc = _doc(cli("prune", EXAMPLE, "--ratio", "auto", "--from", report, "-o", tmp_path / "q.pt", "--json"))
    assert doc["warnings"][-1] == warning and doc["acc_drop_exceeded"] is True


def test_prune_auto_within_acc_drop_passes_strict(cli, tmp_path):
    report = _fake_report(tmp_path / "b.json", 0.10)
    doc = _doc(cli("prune", EXAMPLE, "--ratio", "auto", "--from", report, "-o", tmp_path / "p.pt", "--strict",
                   "--json"))
    assert doc["acc_drop_exceeded"] is False


def test_a_drop_of_exactly_acc_drop_is_within_it_as_verify_counts_it():
    """980 of 1,000 right before, 975 after: 0.5 points, which verify's accuracy criterion
    keeps (0.975 ≥ 0.98 − 0.005); prune's check took 100·(0.98 − 0.975) = 0.5000000000000004
    as more than --acc-drop 0.5 and failed --strict on it."""
    from prunelimit.api.pruning import PruneReport
    from prunelimit.models.evaluate import Evaluation

    def report(after: int) -> PruneReport:
        return PruneReport(0.9, 0.9, "predicted", "global", [], Evaluation(0.1, 0.980, 1000),
                           Evaluation(0.2, after / 1000, 1000), None, "p.pt", (), acc_drop=0.5)

    assert report(975).acc_drop_exceeded is False and report(975).to_json()["acc_drop_exceeded"] is False
    assert report(974).acc_drop_exceeded is True


def test_prune_to_a_given_ratio_is_not_checked(cli, tmp_path):
    doc = _doc(cli("prune", EXAMPLE, "--ratio", "0.97", "-o", tmp_path / "p.pt", "--json"))
    assert doc["after"]["accuracy_drop"] > 0.5
    assert doc["acc_drop_exceeded"] is None and doc["acc_drop"] is None
    # so --strict (or --acc-drop) beside a number would do nothing: refused, not ignored
    strict = cli("prune", EXAMPLE, "--ratio", "0.97", "-o", tmp_path / "s.pt", "--strict")
    assert strict.exit_code == 2 and "--strict has no effect" in strict.stderr and not (tmp_path / "s.pt").exists()


# --------------------------------------------------------------------------- compatible baselines


def _provenance():
    from prunelimit.api import CurvatureOptions
    from prunelimit.baseline import provenance
    from prunelimit.inputs import load_inputs

    return provenance(load_inputs(EXAMPLE, data_from_checkpoint=True), CurvatureOptions())


def test_values_a_baseline_holds_are_named_clipped():
    """A baseline's option or version was echoed whole: a 100,000-character warning line."""
    from prunelimit.baseline import Provenance, check_baselines

    current = Provenance("default", 10, 8, "f" * 64, {"epsilon": None}, version="0.1.0")
    report = {"method": "default", "params": {"hessian": 10, "prunable": 8}, "data": {"fingerprint": "f" * 64},
              "options": {"epsilon": "y" * 100_000}, "prunelimit": "9" * 100_000}
    warns = check_baselines([("b.json", report)], current)
    assert all(len(w) < 300 for w in warns), warns
    assert f"epsilon {'y' * 40}… vs auto here" in warns[0] and f"prunelimit {'9' * 40}…" in warns[1]


def _baseline(path: Path, ratio: float = 0.5, **changes) -> Path:
    """A stored bounds report recording the example's own method, D, N, data and loss, and the ± 0
    of its exact spectrum (a baseline stating none is warned about), with ``changes``."""
    from prunelimit.theory.uncertainty import EXACT

    p = _provenance()
    doc = {"method": p.method, "params": {"hessian": p.hessian, "prunable": p.prunable},
           "data": {"fingerprint": p.fingerprint, "loss": p.loss}, "weights": {"layout": p.layout}, "options": p.options,
           "prediction": {"ratio": ratio, "uncertainty": EXACT.to_json()}, "bounds": {"lower": ratio}}
    for key, value in changes.items():
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("changes, reason", [
    ({"method": "paper"}, "method paper vs default here"),
    ({"params": {"hessian": 9802, "prunable": 2368}}, "D (Hessian parameters) 9,802 vs 2,410 here"),
    ({"params": {"hessian": 2410, "prunable": 100}}, "N (prunable weights) 100 vs 2,368 here"),
    ({"data": {"fingerprint": "0" * 64}}, "data fingerprint 000000000000… vs"),
    ({"data": {"fingerprint": _provenance().fingerprint, "loss": "mse"}}, "loss mse vs ce here"),
    ({"options": {**_provenance().options, "scope": "layer"}}, "scope layer vs global here (another pruning path)"),
])
def test_incompatible_baseline_is_refused_before_the_curvature_work(cli, tmp_path, no_curvature, changes, reason):
    base = _baseline(tmp_path / "base.json", **changes)
    result = cli("gate", EXAMPLE, "--baseline", base, "--max-drop", "0.02")
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0] and "--allow-incompatible-baseline" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("stored, here", [("exact", "default"), ("slq", "default"), ("default", "exact"),
                                           ("slq", "exact"), ("paper", "exact"), ("exact", "paper")])
def test_a_baseline_is_refused_for_another_arithmetic_not_another_spectrum_solver(stored, here):
    """default, slq and exact estimate one spectrum (default runs exact or SLQ): a baseline
    of one compares with a warning; the paper arithmetic's grid limit is another quantity."""
    from dataclasses import replace

    from prunelimit.baseline import check_baselines
    from prunelimit.errors import UsageError

    current = replace(_provenance(), method=here)
    doc = {"method": stored, "params": {"hessian": current.hessian, "prunable": current.prunable},
           "data": {"fingerprint": current.fingerprint, "loss": current.loss},
           "weights": {"layout": current.layout}, "options": current.options, "prunelimit": current.version}
    if "paper" in (stored, here):
        with pytest.raises(UsageError, match=f"method {stored} vs {here} here;"):
            check_baselines([("b.json", doc)], current)
    else:
        assert check_baselines([("b.json", doc)], current) == [
            f"baseline b.json was computed with other options: method {stored} vs {here} here"]
    assert check_baselines([("b.json", {**doc, "method": here})], current) == []


def test_a_baseline_of_other_tensors_of_the_same_sizes_is_refused(cli, tmp_path, no_curvature):
    """``--exclude 2`` and ``--exclude 4`` of an MLP with two 32×32 layers leave D and N
    alike but analyse other tensors: a gate and ``verify --from`` refuse the one for the other."""
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.models.spec import build_model

    torch.manual_seed(0)
    ckpt = tmp_path / "twins.pt"
    save_checkpoint(ckpt, "mlp:64,32,32,32,10", build_model("mlp:64,32,32,32,10").state_dict(),
                    meta={"data": "digits:train"})

    def provenance(exclude: str):
        from prunelimit.api import CurvatureOptions
        from prunelimit.baseline import provenance
        from prunelimit.inputs import load_inputs

        return provenance(load_inputs(ckpt, data_from_checkpoint=True, exclude=(exclude,)), CurvatureOptions())

    two, four = provenance("2"), provenance("4")
    assert (two.hessian, two.prunable) == (four.hessian, four.prunable) and two.layout != four.layout
    base = tmp_path / "base.json"  # what bounds --exclude 2 records
    base.write_text(json.dumps({"method": two.method, "params": {"hessian": two.hessian, "prunable": two.prunable},
                                "data": {"fingerprint": two.fingerprint, "loss": two.loss},
                                "weights": {"fingerprint": two.weights, "layout": two.layout}, "options": two.options,
                                "bounds": {"lower": 0.5}, "prediction": {"ratio": 0.5}}))
    result = cli("gate", ckpt, "--exclude", "4", "--baseline", base, "--max-drop", "0.02")
    assert result.exit_code == 2, result.stderr
    assert "tensor layout" in result.stderr and "--include/--exclude" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = cli("verify", ckpt, "--exclude", "4", "--from", base)
    assert result.exit_code == 2 and "tensor layout" in result.stderr, result.stderr


def test_baselines_record_and_compare_method_sizes_and_data(cli, tmp_path):
    fingerprint = _provenance().fingerprint
    good = _doc(cli("gate", EXAMPLE, "--baseline", _baseline(tmp_path / "b.json"), "--max-drop", "0.02", "--json"))
    assert good["passed"] is True and not any("baseline" in w for w in good["warnings"])
    assert good["bounds"]["data"]["fingerprint"] == fingerprint and len(fingerprint) == 64
    assert good["bounds"]["options"]["method"] == "default" and good["bounds"]["options"]["scope"] == "global"
    # a stored report of this very run is a compatible baseline
    (tmp_path / "own.json").write_text(json.dumps(good["bounds"]))
    own = _doc(cli("gate", EXAMPLE, "--baseline", tmp_path / "own.json", "--max-drop", "0.0", "--json"))
    assert own["passed"] is True and own["warnings"] == good["warnings"]
    anyway = _doc(cli("gate", EXAMPLE, "--baseline", _baseline(tmp_path / "p.json", method="paper"),
                      "--max-drop", "0.02", "--allow-incompatible-baseline", "--json"))
    assert anyway["passed"] is True
    assert any("compared anyway" in w and "method paper" in w for w in anyway["warnings"])
    old = _doc(cli("gate", EXAMPLE, "--baseline", _baseline(tmp_path / "o.json", data=None, options=None),
                   "--max-drop", "0.02", "--json"))
    assert old["passed"] is True
    assert any("does not record its loss, data fingerprint" in w for w in old["warnings"])
    other = _doc(cli("gate", EXAMPLE, "--baseline", _baseline(tmp_path / "e.json", options={"epsilon": 0.1}),
                     "--max-drop", "0.02", "--json"))
    assert any("other options: epsilon 0.1 vs auto here" in w for w in other["warnings"])
    subset = _doc(cli("gate", EXAMPLE, "--baseline", _baseline(tmp_path / "s.json", options={"hessian_samples": 64}),
                      "--max-drop", "0.02", "--json"))
    assert any("other options: hessian_samples 64 vs auto here" in w for w in subset["warnings"])
    every = _doc(cli("gate", EXAMPLE, "--baseline", _baseline(tmp_path / "a.json", options={"hessian_samples": "all"}),
                     "--max-drop", "0.02", "--json"))
    assert not any("other options" in w for w in every["warnings"])
    older = _doc(cli("gate", EXAMPLE, "--baseline", _baseline(tmp_path / "v.json", prunelimit="0.0.1"),
                     "--max-drop", "0.02", "--json"))
    assert older["passed"] is True and older["bounds"]["prunelimit"] == prunelimit.__version__
    assert any("computed by prunelimit 0.0.1, this is" in w for w in older["warnings"])


# both ran auto: a baseline stored while auto subsampled 8,193-32,767 samples was told to use the same option
_AUTO_ADVICE = ("both ran --hessian-samples auto, which takes a subset only under SLQ and only of data of at least "
                "4 times its size (32,768 samples; before prunelimit changed that rule, at least 16,384, and before "
                "that more than 8,192): store a new baseline, or run both with --hessian-samples all")
_SAME_ADVICE = "compare runs with the same --hessian-samples (all: every sample)"


@pytest.mark.parametrize("sample, warned, option, advice", [
    ({"used": 300, "total": 1437, "part_ratios": [0.8, 0.9, 0.85, 0.82]}, True, None, _AUTO_ADVICE),  # auto subsampled
    ({"used": 300, "total": 1437, "part_ratios": [0.8, 0.9, 0.85, 0.82]}, True, "all", _SAME_ADVICE),
    ({"used": 300, "total": 1437, "split_ratios": [0.8, 0.9]}, True, None, _AUTO_ADVICE),  # from before the 4 parts
    ({"used": 1437, "total": 1437, "split_ratios": None}, False, None, None),
    (None, False, None, None),  # every sample
    ("damaged", False, None, None),  # an entry of another shape counts as unrecorded
])
def test_a_baseline_over_another_curvature_sample_is_warned_about(cli, tmp_path, sample, warned, option, advice):
    """``hessian_samples`` ``auto`` and ``all`` compare as one option, but ``auto`` takes a
    subset of a large data set: what each Hessian was really taken over is compared once
    both ran, so a ``max_drop`` rule does not compare a subsample's ρ* silently. Where both
    ran ``auto`` the advice says why they differ (the rule of ``auto``), not to use the same option."""
    base = _baseline(tmp_path / "b.json", spectrum={"hessian_samples": sample},
                     options={**_provenance().options, "hessian_samples": option})
    doc = _doc(cli("gate", EXAMPLE, "--baseline", base, "--max-drop", "0.5", "--json"))
    notes = [w for w in doc["warnings"] if "took its Hessian over" in w]
    assert notes == (["baseline " + str(base) + " took its Hessian over 300 samples, this run over every sample: "
                      f"ρ* moves with the curvature sample; {advice}"] if warned else [])
    assert not any("other options" in w for w in doc["warnings"])


def test_a_baseline_is_compared_by_the_samples_its_hessian_took_not_its_option(cli, tmp_path):
    """A baseline stored with ``--hessian-samples 200`` on the exact spectrum, which takes every
    sample whatever the option (its report says so), was warned about as 'computed with other
    options: hessian_samples 200 vs auto here' though both Hessians are over the same 1,437
    samples. A report records what its Hessian took: that is compared, once this run took its
    own; one that took 200 is still warned about, as a subsample, not as an option."""
    every = {"used": 1437, "total": 1437, "part_ratios": None}
    subset = {"used": 200, "total": 1437, "part_ratios": [0.9, 0.91, 0.92, 0.9]}
    options = {**_provenance().options, "hessian_samples": 200}
    unused = _baseline(tmp_path / "unused.json", options=options, spectrum={"hessian_samples": every})
    taken = _baseline(tmp_path / "taken.json", options=options, spectrum={"hessian_samples": subset})
    policy = tmp_path / "gate.yaml"
    policy.write_text(f"gate:\n  rules:\n    - {{baseline: {unused}, max_drop: 0.5}}\n"
                      f"    - {{baseline: {taken}, max_drop: 0.5}}\n")
    warnings = _doc(cli("gate", EXAMPLE, "--config", policy, "--json"))["warnings"]
    assert not any("other options" in w for w in warnings)
    assert not any(str(unused) in w for w in warnings)
    assert [w for w in warnings if str(taken) in w and "Hessian" in w] == [
        f"baseline {taken} took its Hessian over 200 samples, this run over every sample: ρ* moves with the "
        f"curvature sample; {_SAME_ADVICE}"]


@pytest.mark.parametrize("recorded, here, differ", [
    (8192, "auto", False),  # auto draws 8,192 of the 40,000 samples
    ("auto", 8192, False),
    (None, 8192, False),  # a library report's default
    ("all", 50000, False),  # a count of at least the data's is all of it
    (40000, "all", False),
    ("all", "auto", True),  # auto's 8,192 are not every sample
    (4096, "auto", True),
    (4096, 8000, True),
])
def test_a_baselines_curvature_sample_is_compared_as_the_subset_it_draws(recorded, here, differ):
    """A baseline's ``hessian_samples`` spelling and this run's are compared by the subset each
    draws of this data (its size, or all): ``8192`` and ``auto`` drawing 8,192 are one option
    (they were warned about as other options), ``all`` and ``auto`` drawing a subset two."""
    from prunelimit.baseline import Provenance, differences, sample_notes

    old = Provenance("default", 10, 8, "f", {"hessian_samples": recorded})
    new = Provenance("default", 10, 8, "f", {"hessian_samples": here}, samples=(40000, 10))
    options = differences(old, new)[1]
    assert options == ([f"hessian_samples {'auto' if recorded is None else recorded} vs {here} here"] if differ else [])
    drawn = {"used": 8192, "total": 40000, "part_ratios": [0.5] * 4}
    base = {"options": {"hessian_samples": recorded}, "spectrum": {"hessian_samples": drawn}}
    # alike options: what each really took is compared once both ran (the same 8,192 here: no note)
    assert sample_notes([("b.json", base)], new, drawn) == []


def test_a_gate_baseline_over_the_same_subset_spelled_otherwise_is_not_warned_about(cli, tmp_path):
    """``--hessian-samples 5000`` on the example's 1,437 samples takes all of them, as its
    default ``auto`` does: a baseline recording it is no other option."""
    doc = _doc(cli("gate", EXAMPLE, "--baseline", _baseline(tmp_path / "b.json", options={"hessian_samples": 5000}),
                   "--max-drop", "0.02", "--json"))
    assert not any("other options" in w for w in doc["warnings"]), doc["warnings"]


# --------------------------------------------------------------------------- regime, gate on the measured limit


@pytest.fixture(scope="module")
def plain_ckpt(tmp_path_factory) -> Path:
    """The example's architecture trained plainly (no l1): SGD, seed 0, 300 steps on digits."""
    from prunelimit.inputs import load_batches
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.models.spec import build_model

    torch.manual_seed(0)
    net = build_model("mlp:64,32,10")
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    batches = load_batches("digits:train", 128)
    for step in range(300):
        x, y = batches[step % len(batches)]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    path = tmp_path_factory.mktemp("plain") / "plain.pt"
    save_checkpoint(path, "mlp:64,32,10", net.state_dict(), meta={"data": "digits:train"})
    return path


def test_near_zero_share_separates_l1_from_plain_training(plain_ckpt):
    from prunelimit.inputs import load_inputs
    from prunelimit.models.params import prunable_parameters
    from prunelimit.theory.regime import assess_regime

    def regime(path):
        inputs = load_inputs(path, data_from_checkpoint=True)
        return assess_regime([p for _, p in prunable_parameters(inputs.model)])

    l1, plain = regime(EXAMPLE), regime(plain_ckpt)
    assert l1.l1_shaped and l1.near_zero_share > 0.8 and l1.advice is None
    assert not plain.l1_shaped and plain.near_zero_share < 0.02 and "gate --use actual" in plain.advice


def test_exact_zeros_do_not_count_as_l1_shape():
    from prunelimit.theory.regime import near_zero_share

    w = torch.linspace(0.5, 1.0, 100)
    assert near_zero_share([torch.cat([w, torch.zeros(900)])]) == 0.0
    assert near_zero_share([torch.cat([w, torch.full((900,), 1e-6)])]) == pytest.approx(0.9)


def _prunable(path: Path):
    from prunelimit.inputs import load_inputs
    from prunelimit.models.params import prunable_parameters

    inputs = load_inputs(path, data_from_checkpoint=True)
    return inputs, [p for _, p in prunable_parameters(inputs.model)]


@pytest.mark.parametrize("path", ["plain", "l1"])
def test_a_rescaling_that_keeps_the_function_keeps_the_regime(plain_ckpt, path):
    """A ReLU network with its first layer scaled by 1000 and the next by 1/1000 computes
    the same function: the regime must not change (against the model-wide largest weight,
    the plain model's other layer all counted as near zero: l1-shaped)."""
    from prunelimit.theory.regime import assess_regime

    inputs, weights = _prunable(plain_ckpt if path == "plain" else EXAMPLE)
    x = inputs.batches[0][0]
    before, out = assess_regime(weights), inputs.model(x)
    with torch.no_grad():
        inputs.model[0].weight.mul_(1000.0)
        inputs.model[0].bias.mul_(1000.0)
        inputs.model[2].weight.div_(1000.0)
    # float32 rounding of the scaled products only: the same function
    assert torch.allclose(inputs.model(x), out, rtol=1e-4, atol=1e-4)
    after = assess_regime(weights)
    assert after.l1_shaped == before.l1_shaped == (path == "l1")
    assert after.near_zero_share == pytest.approx(before.near_zero_share, abs=0.01)  # a few ulp-close weights


@pytest.mark.parametrize("path", ["plain", "l1"])
def test_a_per_unit_rescaling_that_keeps_the_function_keeps_the_regime(plain_ckpt, path):
    """Each hidden unit's incoming weights and bias scaled by its own factor in 10^±4, its
    outgoing weights by the inverse: the same function. Against each tensor's raw largest
    |w| the plain model's share went from 0.3 % to 74 % (l1-shaped); balanced, it stays put."""
    from prunelimit.theory.regime import assess_regime

    inputs, weights = _prunable(plain_ckpt if path == "plain" else EXAMPLE)
    x = inputs.batches[0][0]
    before, out = assess_regime(weights), inputs.model(x)
    factors = 10.0 ** (torch.rand(inputs.model[0].out_features, generator=torch.Generator().manual_seed(0)) * 8 - 4)
    with torch.no_grad():
        inputs.model[0].weight.mul_(factors[:, None])
        inputs.model[0].bias.mul_(factors)
        inputs.model[2].weight.div_(factors[None, :])
    assert torch.allclose(inputs.model(x), out, rtol=1e-3, atol=1e-3)
    after = assess_regime(weights)
    assert after.l1_shaped == before.l1_shaped == (path == "l1")
    assert after.near_zero_share == pytest.approx(before.near_zero_share, abs=0.01)


def test_an_l1_model_pruned_past_its_near_zero_mass_is_not_told_to_train_with_l1(plain_ckpt):
    """Magnitude pruning removes the near-zero mass first: the l1 example pruned by 90 % keeps
    only large weights. Its regime is stated as unknown (it may have been l1-trained), still
    with the advice to gate on the measured limit; a plainly trained model pruned alike too."""
    from prunelimit.theory.regime import assess_regime

    for path in (EXAMPLE, plain_ckpt):
        _, weights = _prunable(path)
        cut = torch.cat([w.detach().abs().reshape(-1) for w in weights]).quantile(0.9)
        with torch.no_grad():
            for w in weights:
                w[w.abs() <= cut] = 0.0
        regime = assess_regime(weights)
        assert not regime.l1_shaped and regime.zero_share == pytest.approx(0.9, abs=0.01)
        assert "pruned already" in regime.advice and "gate --use actual" in regime.advice
        assert "train with l1" not in regime.advice
    _, weights = _prunable(plain_ckpt)  # unpruned and plain: the advice to train with l1 stays
    assert "train with l1" in assess_regime(weights).advice


def test_too_few_weights_cannot_show_l1_shape():
    """Two near-zero weights of twenty are a 10 % share, which a plainly trained model reaches
    by chance (1.7 % of the time at a 1 % rate): too few weights to tell either way."""
    from prunelimit.theory.regime import MIN_WEIGHTS, assess_regime

    few = torch.cat([torch.linspace(0.5, 1.0, 18), torch.tensor([1e-5, -1e-5])])
    regime = assess_regime([few])
    assert not regime.l1_shaped and regime.near_zero_share == pytest.approx(0.1)
    assert "too few" in regime.advice and "train with l1" not in regime.advice
    enough = torch.cat([torch.linspace(0.5, 1.0, MIN_WEIGHTS - 5), torch.full((5,), 1e-5)])
    assert assess_regime([enough]).l1_shaped


def test_gate_states_the_regime_and_gates_on_the_measured_limit(cli, plain_ckpt, no_curvature):
    """Rules that all use the measured limit need ε, not the spectrum (``no_curvature``): the
    gate states the regime and none of the prediction's warnings, which it did not compute."""
    doc = _doc(cli("gate", plain_ckpt, "--min-ratio", "0", "--use", "actual", "--json"))
    regime = doc["bounds"]["regime"]
    assert regime["l1_shaped"] is False and regime["statistic"]["value"] < regime["statistic"]["threshold"]
    assert "prediction" not in doc["bounds"] and doc["warnings"] == [] and doc["cache_hit"] is False
    actual = doc["bounds"]["actual"]["loss_ratio"]
    assert doc["measured"] == actual and doc["bounds"]["actual"]["evaluations"] <= 25
    # searched again (the first gate's search is stored: tests/cache/test_cache_measured_limit.py), to state its passes
    above = cli("gate", plain_ckpt, "--min-ratio", f"{actual + 0.01:.4f}", "--use", "actual", "--no-cache")
    assert above.exit_code == 1, above.stderr
    assert "FAIL actual ratio >= " in above.stdout and "ρ*" not in above.stdout
    assert f"ε = {doc['bounds']['epsilon']:.4g} (std of per-batch losses)" in " ".join(above.stdout.split())
    assert "prune-and-evaluate passes · no spectrum" in " ".join(above.stdout.split())
    below = cli("gate", plain_ckpt, "--min-ratio", f"{actual - 0.01:.4f}", "--use", "actual")
    assert below.exit_code == 0, below.stderr


@pytest.mark.parametrize("flag", [("--eta", "0.05"), ("--bound-mode", "geom"), ("--negative", "flat"),
                                  ("--time-budget", "5")])
def test_a_gate_on_the_measured_limit_refuses_a_flag_only_the_prediction_reads(cli, flag):
    """``--eta``, ``--bound-mode`` and ``--negative`` act on the spectrum's bounds, which a gate
    whose rules all use the measured limit never computes: they passed and did nothing, in
    silence, while ``--time-budget`` and the other spectrum flags were refused. ε, the search's
    criterion, stays (it moves the measured limit)."""
    result = cli("gate", EXAMPLE, "--min-ratio", "0.1", "--use", "actual", *flag, "--no-cache")
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"prunelimit: error: {flag[0]} has no effect: every rule uses the measured limit (--use "
                             "actual), which computes no spectrum; drop it, or gate on --use lower|predicted\n")
    assert cli("gate", EXAMPLE, "--min-ratio", "0.1", "--use", "actual", "--epsilon", "0.05",
               "--no-cache").exit_code == 0


def test_the_measured_limit_alone_is_the_one_measured_beside_the_prediction(cli, plain_ckpt, tmp_path):
    """A policy that mixes ``actual`` with ``lower`` runs ``verify`` (spectrum and search): its
    measured limit is the one the spectrum-free gate measures, and it overshoots on this
    plainly trained model, as the regime warning says with the overshoot measured."""
    policy = tmp_path / "gate.yaml"
    policy.write_text("gate:\n  rules:\n    - min_ratio: 0\n      use: actual\n    - min_ratio: 0\n      use: lower\n")
    mixed = _doc(cli("gate", plain_ckpt, "--config", policy, "--json"))
    alone = _doc(cli("gate", plain_ckpt, "--min-ratio", "0", "--use", "actual", "--json"))
    assert mixed["bounds"]["actual"]["loss_ratio"] == alone["measured"] < mixed["bounds"]["prediction"]["ratio"]
    assert mixed["bounds"]["epsilon"] == pytest.approx(alone["bounds"]["epsilon"], rel=1e-6)
    # the regime's finding, with the overshoot measured on this model (one warning)
    assert any("does not look l1-trained" in w and "prediction overshoots, measured" in w for w in mixed["warnings"])


@pytest.mark.parametrize("changes", [
    {"method": "slq"},  # the measured limit does not depend on the curvature method
    {"options": {**_provenance().options, "eta": 0.5, "hessian_samples": 64}},
])
def test_a_measured_baseline_is_compared_on_what_moves_a_measured_limit(cli, tmp_path, no_curvature, changes):
    base = _baseline(tmp_path / "v.json", actual={"loss_ratio": 0.5}, **changes)
    doc = _doc(cli("gate", EXAMPLE, "--use", "actual", "--baseline", base, "--max-drop", "0.02", "--json"))
    assert doc["passed"] is True and doc["rules"][0]["baseline"] == 0.5
    assert not [w for w in doc["warnings"] if "baseline" in w]


def test_a_measured_baseline_searched_with_another_epsilon_is_refused(cli, tmp_path, no_curvature):
    """The measured limit is the search under loss ≤ L + ε: a verify baseline of ε 0.1 against
    this run's auto ε (or the reverse) measured another quantity. It only warned, and a gate
    passed on a drop between two criteria; now it is refused (exit 2) like another data set,
    also when a prediction rule reads the same baseline, unless compared anyway."""
    base = _baseline(tmp_path / "v.json", actual={"loss_ratio": 0.5},
                     options={**_provenance().options, "epsilon": 0.1})
    result = cli("gate", EXAMPLE, "--use", "actual", "--baseline", base, "--max-drop", "0.02")
    assert result.exit_code == 2 and result.stderr.strip() == (
        f"prunelimit: error: baseline {base} is not comparable with this model: epsilon 0.1 vs auto here (the "
        "measured limit's loss criterion); store a new one (prunelimit verify MODEL --json > baseline.json) or "
        "pass --allow-incompatible-baseline")
    policy = tmp_path / "gate.yaml"
    policy.write_text(f"gate:\n  rules:\n    - baseline: {base}\n      max_drop: 0.02\n      use: actual\n"
                      f"    - baseline: {base}\n      max_drop: 0.02\n      use: lower\n")
    assert cli("gate", EXAMPLE, "--config", policy).exit_code == 2
    anyway = _doc(cli("gate", EXAMPLE, "--use", "actual", "--baseline", base, "--max-drop", "0.02",
                      "--allow-incompatible-baseline", "--json"))
    assert any("compared anyway" in w and "epsilon 0.1 vs auto here" in w for w in anyway["warnings"])
    # the same ε option, auto on both sides, compares (each run derives its own value)
    same = _baseline(tmp_path / "s.json", actual={"loss_ratio": 0.5})
    assert _doc(cli("gate", EXAMPLE, "--use", "actual", "--baseline", same, "--max-drop", "0.02", "--json"))["passed"]


def test_a_measured_baseline_of_another_pruning_path_or_data_is_refused(cli, tmp_path, no_curvature):
    layer = _baseline(tmp_path / "l.json", actual={"loss_ratio": 0.5},
                      options={**_provenance().options, "scope": "layer"})
    result = cli("gate", EXAMPLE, "--use", "actual", "--baseline", layer, "--max-drop", "0.02")
    assert result.exit_code == 2 and "scope layer vs global here" in result.stderr
    assert "prunelimit verify MODEL --json" in result.stderr
    other = _baseline(tmp_path / "d.json", actual={"loss_ratio": 0.5}, data={"fingerprint": "0" * 64})
    result = cli("gate", EXAMPLE, "--use", "actual", "--baseline", other, "--max-drop", "0.02")
    assert result.exit_code == 2 and "data fingerprint 000000000000… vs" in result.stderr
    assert "(other analysis batches: samples, their order or the batch size)" in result.stderr


def test_the_baseline_compared_is_the_one_checked(cli, tmp_path, no_curvature, monkeypatch):
    """A baseline file rewritten while the gate works (another CI job storing a new one) is
    not read again: the value compared is that of the document checked for compatibility."""
    from prunelimit.api import gating

    base = _baseline(tmp_path / "v.json", actual={"loss_ratio": 0.5})
    checked = base.read_text()
    measure = gating.measured_limit

    def rewritten_meanwhile(*args, **kwargs):
        base.write_text(checked.replace('"loss_ratio": 0.5', '"loss_ratio": 0.9'))
        return measure(*args, **kwargs)

    monkeypatch.setattr(gating, "measured_limit", rewritten_meanwhile)
    doc = _doc(cli("gate", EXAMPLE, "--use", "actual", "--baseline", base, "--max-drop", "0.02", "--json"))
    assert '"loss_ratio": 0.9' in base.read_text()
    assert doc["rules"][0]["baseline"] == 0.5 and doc["passed"] is True


def test_l1_example_is_l1_shaped_in_bounds(cli):
    doc = _doc(cli("gate", EXAMPLE, "--min-ratio", "0", "--json"))
    assert doc["bounds"]["regime"]["l1_shaped"] is True and doc["bounds"]["regime"]["advice"] is None
    assert "schema" in doc["bounds"] and "actual" not in doc["bounds"]  # no search unless a rule uses it
    # its gradient is l1's balance (docs/guide.md shows the warning): the warning says so
    said = "(train longer if it has not converged; l1 training or weight decay leaves such a gradient by design)"
    assert any(w.endswith(said) for w in doc["warnings"])


def test_the_first_order_warning_names_l1_only_for_an_l1_shaped_model(cli, own_ckpt):
    """An untrained MLP (far from a minimum, no near-zero mass) is told to train longer, not
    that l1 training leaves such a gradient (a small given ε puts the first-order change above it)."""
    doc = _doc(cli("bounds", own_ckpt, "--max-samples", 300, "--method", "exact", "--epsilon", "0.001", "--json"))
    assert doc["regime"]["l1_shaped"] is False
    first_order = [w for w in doc["warnings"] if "not at a minimum" in w]
    assert first_order and first_order[0].endswith(f"({UNCONVERGED_GRADIENT})") and "l1" not in first_order[0]


def test_actual_baseline_must_be_a_verify_report(cli, tmp_path, no_curvature):
    result = cli("gate", EXAMPLE, "--use", "actual", "--baseline", _baseline(tmp_path / "b.json"), "--max-drop", "0.1")
    assert result.exit_code == 3
    assert "(no actual ratio): store it with `prunelimit verify --json`" in result.stderr


def test_reports_name_the_loss_and_torchs_own_criteria_are_the_built_in_ones():
    """``data.loss`` names the loss a limit was computed for: torch's default cross-entropy
    and squared error are ``ce``/``mse`` however they are given (the same numbers), any
    other criterion or function by its qualified name."""
    import torch.nn.functional as F
    from torch import nn

    from prunelimit.baseline import loss_name
    from prunelimit.data.batches import cross_entropy_loss, mse_loss
    from prunelimit.library import loss_function

    assert [loss_name(f) for f in (cross_entropy_loss, mse_loss)] == ["ce", "mse"]
    assert [loss_name(loss_function(c)) for c in (nn.CrossEntropyLoss(), F.cross_entropy, nn.MSELoss())] == \
        ["ce", "ce", "mse"]
    assert loss_name(loss_function(nn.CrossEntropyLoss(label_smoothing=0.1))) == \
        "torch.nn.modules.loss.CrossEntropyLoss(ignore_index=-100, label_smoothing=0.1, reduction='mean')"
    assert loss_name(loss_function(F.smooth_l1_loss)) == "torch.nn.functional.smooth_l1_loss"


def test_a_criterion_is_recorded_with_its_settings():
    """Two settings of one criterion class are two losses (another Hessian): the recorded
    name carries the constructor's values and a hash of its tensors (a class weight), and
    the same settings built twice record alike."""
    import functools

    import torch.nn.functional as F
    from torch import nn

    from prunelimit.baseline import loss_name
    from prunelimit.library import loss_function

    weights = torch.linspace(0.5, 1.5, 10)
    criteria = [lambda: nn.CrossEntropyLoss(label_smoothing=0.1), lambda: nn.CrossEntropyLoss(weight=weights),
                lambda: nn.CrossEntropyLoss(weight=weights.flip(0)), lambda: nn.HuberLoss(),
                lambda: nn.HuberLoss(delta=2.0), lambda: functools.partial(F.huber_loss, delta=2.0),
                lambda: functools.partial(F.huber_loss, delta=3.0)]
    names = [loss_name(loss_function(make())) for make in criteria]
    assert len(set(names)) == len(names), names
    assert names == [loss_name(loss_function(make())) for make in criteria]
    assert names[4] == "torch.nn.modules.loss.HuberLoss(delta=2.0, reduction='mean')"
    assert names[1].startswith("torch.nn.modules.loss.CrossEntropyLoss(ignore_index=-100, label_smoothing=0.0, "
                               "reduction='mean', tensors=")


def test_a_gate_refuses_a_baseline_of_another_criterion_setting(tmp_path, no_curvature):
    """As for another ``--loss``: a library gate whose criterion differs from the baseline's
    only in a setting is refused before any curvature work, naming both."""
    from torch import nn

    from prunelimit.api import CurvatureOptions
    from prunelimit.baseline import provenance
    from prunelimit.errors import UsageError
    from prunelimit.inputs import load_inputs
    from prunelimit.library import inputs_from

    example = load_inputs(EXAMPLE, data_from_checkpoint=True)
    smoothed = provenance(inputs_from(example.model, example.batches, loss=nn.CrossEntropyLoss(label_smoothing=0.1)),
                          CurvatureOptions())
    base = _baseline(tmp_path / "b.json", data={"fingerprint": smoothed.fingerprint, "loss": smoothed.loss})
    with pytest.raises(UsageError, match=r"loss torch\.nn\.modules\.loss\.CrossEntropyLoss\(.*label_smoothing=0\.1.* vs "
                       r"torch\.nn\.modules\.loss\.CrossEntropyLoss\(.*label_smoothing=0\.2"):
        prunelimit.gate(example.model, example.batches, baseline=str(base), max_drop=0.1,
                        loss=nn.CrossEntropyLoss(label_smoothing=0.2))


def test_a_baseline_naming_only_the_criterion_class_is_compared_with_a_warning():
    """A report written before settings were recorded names the class alone: its settings
    are unknown, so it is compared with the warning of an older report, not refused."""
    from dataclasses import replace

    from prunelimit.baseline import check_baselines

    current = replace(_provenance(), loss="torch.nn.modules.loss.HuberLoss(delta=2.0, reduction='mean')")
    old = {"method": current.method, "params": {"hessian": current.hessian, "prunable": current.prunable},
           "data": {"fingerprint": current.fingerprint, "loss": "torch.nn.modules.loss.HuberLoss"}}
    notes = check_baselines([("old.json", old)], current)
    assert any("does not record its loss settings" in n for n in notes), notes
    with pytest.raises(Exception, match="loss torch.nn.modules.loss.MSELoss vs"):
        check_baselines([("other.json", {**old, "data": {**old["data"], "loss": "torch.nn.modules.loss.MSELoss"}})],
                        current)


def test_a_lower_rule_under_bound_mode_none_is_refused_before_the_spectrum(cli, tmp_path, no_curvature):
    """``--bound-mode none`` computes no ρ_L: a rule on it used to pay for the spectrum and
    then exit 3 as if the input were broken; it is a usage error, before any work, naming
    the flags (a policy's rule by its name), while ρ* and the measured limit still gate."""
    result = cli("gate", EXAMPLE, "--min-ratio", "0.5", "--bound-mode", "none")
    assert result.exit_code == 2 and result.stderr.strip() == (
        "prunelimit: error: gate rule 'lower ratio >= 0.5' uses lower (ρ_L), which --bound-mode none does not "
        "compute: gate on predicted or actual (--use), or pass another --bound-mode")
    policy = tmp_path / "gate.yaml"
    policy.write_text("gate:\n  rules:\n    - name: floor\n      min_ratio: 0.1\n      use: lower\n")
    result = cli("gate", EXAMPLE, "--config", policy, "--bound-mode", "none", "--use", "actual")
    assert result.exit_code == 2 and "gate rule 'floor' uses lower" in result.stderr
    # the measured limit still gates under a file's bound_mode: none (a file may serve a bounds step too);
    # typed beside rules that all measure the limit, the flag does nothing and is refused
    shared = tmp_path / "shared.yaml"
    shared.write_text("bound_mode: none\n")
    assert _doc(cli("gate", EXAMPLE, "--min-ratio", "0.5", "--config", shared, "--use", "actual", "--json"))["passed"]
    typed = cli("gate", EXAMPLE, "--min-ratio", "0.5", "--bound-mode", "none", "--use", "actual")
    assert typed.exit_code == 2 and "--bound-mode has no effect" in typed.stderr


def test_junit_never_replaces_a_baseline_the_policy_names(cli, tmp_path, no_curvature):
    """A ``--config`` policy's baseline is an input as much as ``--baseline``: ``--junit`` on
    it is refused before any work (it was replaced by the XML after a passing gate)."""
    base = _baseline(tmp_path / "base.xml", ratio=0.5)
    before = base.read_bytes()
    policy = tmp_path / "gate.yaml"
    policy.write_text(f"gate:\n  rules:\n    - baseline: {base}\n      max_drop: 0.02\n")
    result = cli("gate", EXAMPLE, "--config", policy, "--junit", base)
    assert result.exit_code == 2 and "would overwrite the input" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and base.read_bytes() == before


def test_an_option_left_to_its_default_is_named_auto_in_a_baseline_warning():
    """ε not given is derived from the data (recorded as null): the warning says 'auto', not 'None'."""
    from prunelimit.baseline import Provenance, differences

    old = Provenance("default", 10, 8, "f", {"epsilon": 0.1})
    new = Provenance("default", 10, 8, "f", {"epsilon": None})
    assert differences(old, new)[1] == ["epsilon 0.1 vs auto here"]
    assert differences(new, old)[1] == ["epsilon auto vs 0.1 here"]


def test_a_config_files_paths_are_read_from_its_folder(cli, tmp_path, monkeypatch, no_curvature):
    """A CI job runs from another folder than its policy's: the policy's ``baseline`` (a rule's
    and the flag's key) and ``junit`` are read from the policy's folder (they were read from
    the current one: the baseline was not found, or another file was read)."""
    ci, elsewhere = tmp_path / "ci", tmp_path / "elsewhere"
    ci.mkdir(), elsewhere.mkdir()
    (ci / "base.json").write_text(json.dumps({"schema": "prunelimit.spectrum/1"}))
    (ci / "gate.yaml").write_text("gate:\n  junit: gate.xml\n  baseline: base.json\n  max_drop: 0.1\n"
                                  "  rules:\n    - baseline: base.json\n      max_drop: 0.02\n")
    monkeypatch.chdir(elsewhere)
    result = cli("gate", EXAMPLE, "--config", Path("..") / "ci" / "gate.yaml")
    assert result.exit_code == 3, result.stderr
    assert "baseline ../ci/base.json is a 'prunelimit.spectrum/1' document" in result.stderr
    assert "GateError" in (ci / "gate.xml").read_text() and not list(elsewhere.iterdir())
