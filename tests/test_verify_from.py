"""`verify --from bounds.json`: the prediction of a saved report, no curvature work, and a
refusal of a report computed for another problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.load import load_model

SAMPLES = ("--max-samples", 300)


def _json(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def saved_bounds(cli, own_ckpt, tmp_path):
    path = tmp_path / "bounds.json"
    path.write_text(cli("bounds", own_ckpt, *SAMPLES, "--no-cache", "--json").stdout)
    return path


def test_verify_from_saved_bounds_does_no_curvature_work_and_matches_a_full_verify(cli, own_ckpt, saved_bounds,
                                                                                   monkeypatch):
    full = _json(cli("verify", own_ckpt, *SAMPLES, "--no-cache", "--json"))
    from prunelimit.api import curvature as curvature_api

    monkeypatch.setattr(curvature_api, "spectrum", lambda *a, **k: pytest.fail("the spectrum was computed"))
    saved = _json(cli("verify", own_ckpt, *SAMPLES, "--no-cache", "--from", saved_bounds, "--json"))
    bounds = json.loads(saved_bounds.read_text())
    assert saved["schema"] == "prunelimit.verify/1"
    assert saved["prediction_from"] == str(saved_bounds) and full["prediction_from"] is None
    # the same inputs: the saved prediction is the computed one, and the search is the same
    assert saved["prediction"] == bounds["prediction"] == full["prediction"]
    # (both searches start from the dense point an overshoot check measured: the full run's own, the
    # saved run's as its report states it, so not one pass more)
    assert saved["actual"] == full["actual"]
    assert saved["delta"] == pytest.approx(bounds["prediction"]["ratio"] - saved["actual"]["loss_ratio"], abs=1e-15)


def test_verify_from_shows_where_the_prediction_came_from(cli, own_ckpt, saved_bounds, no_curvature):
    result = cli("verify", own_ckpt, *SAMPLES, "--from", saved_bounds)
    assert result.exit_code == 0, result.stderr
    assert "prediction read from" in result.stdout and "Δ = ρ* − actual" in result.stdout


def _other_weights(ckpt, tmp_path):
    """A copy of ``ckpt`` whose first layer's weights are doubled: the same problem shape, other weights."""
    loaded = load_model(ckpt)
    with torch.no_grad():
        loaded.model[0].weight.mul_(2)
    other = tmp_path / "other.pt"
    save_checkpoint(other, loaded.spec, loaded.model.state_dict(), meta=loaded.meta)
    return other


def test_verify_from_report_of_other_weights_is_refused(cli, own_ckpt, saved_bounds, tmp_path, no_curvature):
    other = _other_weights(own_ckpt, tmp_path)
    result = cli("verify", other, *SAMPLES, "--from", saved_bounds)
    assert result.exit_code == 2
    assert "another problem" in result.stderr and "weights differ" in result.stderr
    assert "Traceback" not in result.stderr


def test_verify_from_report_on_other_data_is_refused(cli, own_ckpt, saved_bounds, no_curvature):
    result = cli("verify", own_ckpt, "--max-samples", 200, "--from", saved_bounds)
    assert result.exit_code == 2 and "data fingerprint" in result.stderr


def test_verify_from_report_of_another_pruning_path_is_refused(cli, own_ckpt, saved_bounds, no_curvature):
    result = cli("verify", own_ckpt, *SAMPLES, "--scope", "layer", "--from", saved_bounds)
    assert result.exit_code == 2 and "--scope global" in result.stderr


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"schema": "prunelimit.prune/1", "ratio": {}}', "not a prunelimit bounds report"),
    ('{"schema": "prunelimit.bounds/1", "prediction": {"ratio": 0.5}}', "epsilon"),
    ('{"schema": "prunelimit.bounds/1", "epsilon": 0.1, "prediction": {"ratio": 1.5}}', "not a ratio"),
])
def test_verify_from_a_file_that_is_not_a_bounds_report_is_an_input_error(cli, own_ckpt, tmp_path, no_curvature,
                                                                           content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = cli("verify", own_ckpt, *SAMPLES, "--from", bad)
    assert result.exit_code == 3 and message in result.stderr, result.stderr


def test_verify_from_missing_file_is_an_input_error(cli, own_ckpt, tmp_path, no_curvature):
    result = cli("verify", own_ckpt, *SAMPLES, "--from", tmp_path / "absent.json")
    assert result.exit_code == 3 and "not found" in result.stderr


def test_prune_from_report_of_other_weights_is_refused(cli, own_ckpt, saved_bounds, tmp_path, no_curvature):
    other = _other_weights(own_ckpt, tmp_path)
    result = cli("prune", other, *SAMPLES, "--ratio", "auto", "--from", saved_bounds, "-o", tmp_path / "p.pt")
    assert result.exit_code == 2 and "weights differ" in result.stderr
    assert not (tmp_path / "p.pt").exists()


def test_verify_from_report_for_another_loss_is_refused(cli, own_ckpt, saved_bounds, no_curvature):
    """Another loss is another Hessian: the saved ρ* does not predict for this one."""
    report = json.loads(saved_bounds.read_text())
    assert report["data"]["loss"] == "ce"
    report["data"]["loss"] = "mse"
    saved_bounds.write_text(json.dumps(report))
    result = cli("verify", own_ckpt, *SAMPLES, "--from", saved_bounds)
    assert result.exit_code == 2 and "loss mse vs ce here" in result.stderr


def test_verify_from_report_of_another_version_warns(cli, own_ckpt, saved_bounds, no_curvature):
    report = json.loads(saved_bounds.read_text())
    report["prunelimit"] = "0.0.1"
    saved_bounds.write_text(json.dumps(report))
    saved = _json(cli("verify", own_ckpt, *SAMPLES, "--from", saved_bounds, "--json"))
    assert any("computed by prunelimit 0.0.1, this is" in w for w in saved["warnings"])


@pytest.mark.parametrize("args, flag", [
    (("verify", "--from", "{saved}", "--epsilon", "0.05"), "--epsilon"),
    (("verify", "--from", "{saved}", "--method", "paper"), "--method"),
    (("prune", "--ratio", "auto", "--from", "{saved}", "--epsilon", "0.05", "-o", "{out}"), "--epsilon"),
    (("prune", "--ratio", "0.5", "--method", "paper", "-o", "{out}"), "--method"),
    (("prune", "--ratio", "0.5", "--from", "{saved}", "-o", "{out}"), "--from"),
])
def test_flags_no_prediction_reads_are_refused(cli, own_ckpt, saved_bounds, no_curvature, tmp_path, args, flag):
    """--epsilon beside --from would leave the report's ε in use (the verify criterion included),
    and --from or a curvature flag beside a numeric --ratio do nothing: exit 2, nothing written."""
    out = tmp_path / "p.pt"
    command, rest = args[0], [a.format(saved=saved_bounds, out=out) for a in args[1:]]
    result = cli(command, own_ckpt, *SAMPLES, *rest)
    assert result.exit_code == 2, result.stdout
    assert f"{flag} has no effect" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_prune_from_a_report_keeps_its_warnings_and_those_of_reading_it(cli, own_ckpt, tmp_path):
    """`prune --ratio auto --from` a report over a curvature subset pruned to its ρ* without
    the warning that its ± leaves out the subset's shift (nor a version note), which
    `prune --ratio auto` computed here and `verify --from` both carry."""
    saved = tmp_path / "sub.json"
    report = _json(cli("bounds", own_ckpt, *SAMPLES, "--method", "slq", "--hessian-samples", "100", "--max-hvps", "40",
                       "--no-cache", "--json"))
    (subset,) = [w for w in report["warnings"] if w.startswith("curvature over 100 of 300 samples")]
    report["prunelimit"] = "0.0.1"
    saved.write_text(json.dumps(report))
    for ratio in ("auto", "lower"):
        pruned = _json(cli("prune", own_ckpt, *SAMPLES, "--ratio", ratio, "--from", saved, "-o", tmp_path / "p.pt",
                           "--force", "--json"))
        # its remedy, refused beside --from, belongs to the run that stores the report
        assert f"{subset} when storing {saved}, or drop --from" in pruned["warnings"]
        assert any("computed by prunelimit 0.0.1, this is" in w for w in pruned["warnings"])


def test_a_saved_prediction_carries_its_uncertainty_as_the_computed_one_does(saved_bounds):
    """``VerifyReport.prediction.uncertainty`` was a dict read from a file but an
    ``Uncertainty`` in ``bounds`` results: it is the object (``.stderr``, ``.probes``,
    ``.steps``, ``.data``, ``.plus_minus``) either way; a report from before ``runs`` was
    recorded takes the spectrum's, and a ± stated as null, or that its parts do not give,
    is none."""
    from prunelimit.api.verification import PredictedLimit
    from prunelimit.theory.uncertainty import Uncertainty

    report = json.loads(saved_bounds.read_text())
    slq = Uncertainty(probes=0.0004, steps=0.0048, data=None, runs=6)
    report["prediction"]["uncertainty"] = slq.to_json()
    saved = PredictedLimit.from_report("b.json", report).uncertainty
    assert saved == slq and saved.stderr == 0.0004 and saved.plus_minus == slq.plus_minus
    older = {k: v for k, v in slq.to_json().items() if k not in ("runs", "grid")}
    report["prediction"]["uncertainty"], report["spectrum"]["runs"] = older, 6
    assert PredictedLimit.from_report("b.json", report).uncertainty == slq
    for broken in ({**older, "plus_minus": None}, {**older, "plus_minus": 0.5}, {**older, "probes": "x"}, None):
        report["prediction"]["uncertainty"] = broken
        assert PredictedLimit.from_report("b.json", report).uncertainty is None


def test_verify_and_prune_from_a_gate_report_read_the_prediction_it_stood_on(cli, own_ckpt, tmp_path):
    """A ``gate --json`` report of a rule on a predicted value holds the ``bounds`` result with
    its provenance: ``verify --from`` and ``prune --from`` read it as that report (they refused
    it as not a bounds report, although ``gate --baseline`` accepted it)."""
    gate = tmp_path / "gate.json"
    gate.write_text(cli("gate", own_ckpt, *SAMPLES, "--no-cache", "--min-ratio", 0, "--use", "predicted",
                        "--json").stdout)
    bounds = json.loads(gate.read_text())["bounds"]
    from prunelimit.api import curvature as curvature_api

    with pytest.MonkeyPatch.context() as patch:  # no curvature work from here on
        patch.setattr(curvature_api, "spectrum", lambda *a, **k: pytest.fail("the spectrum was computed"))
        verified = _json(cli("verify", own_ckpt, *SAMPLES, "--from", gate, "--json"))
        assert verified["prediction"] == bounds["prediction"] and verified["prediction_from"] == str(gate)
        pruned = _json(cli("prune", own_ckpt, *SAMPLES, "--ratio", "lower", "--from", gate, "-o", tmp_path / "p.pt",
                           "--json"))
        assert pruned["ratio"]["requested"] == bounds["bounds"]["lower"]


def test_a_gate_report_of_the_measured_limit_alone_is_refused_as_holding_no_prediction(cli, own_ckpt, tmp_path,
                                                                                       no_curvature):
    gate = tmp_path / "gate.json"
    gate.write_text(cli("gate", own_ckpt, *SAMPLES, "--min-ratio", 0, "--use", "actual", "--json").stdout)
    for command in (("verify",), ("prune", "--ratio", "auto", "-o", tmp_path / "p.pt")):
        result = cli(*command, own_ckpt, *SAMPLES, "--from", gate)
        assert result.exit_code == 3, result.stderr
        assert result.stderr.strip() == (
            f"prunelimit: error: {gate} is a gate report that holds no prediction (its rules measured the limit "
            "alone, use: actual); pass a `prunelimit bounds --json` or `verify --json` report, or a `gate --json` "
            "report of a rule on lower or predicted")
        assert not (tmp_path / "p.pt").exists()
    # a gate of measured rules alone reads a verify report's limit, not a bounds report's: the advice names both
    result = cli("gate", own_ckpt, *SAMPLES, "--min-ratio", 0, "--use", "actual", "--from", gate)
    assert result.exit_code == 3 and "`verify --json` report" in result.stderr


@pytest.mark.parametrize("content, what", [
    ("[0.5]", "holds an array"), ("0.5", "holds a number"), ("null", "holds null"), ('"b.json"', "holds a string"),
    ('{"schema": "prunelimit.spectrum/1", "prediction": {"ratio": 0.5}}', "'prunelimit.spectrum/1' document"),
    ('{"schema": "prunelimit.bounds/2", "epsilon": 0.1, "prediction": {"ratio": 0.5}}', "'prunelimit.bounds/2'"),
    ('{"schema": "prunelimit.gate/1", "bounds": {"schema": "prunelimit.spectrum/1", "prediction": {"ratio": 0.5}}}',
     "holds no prediction"),
])
def test_prune_and_verify_refuse_alike_what_holds_no_bounds_report(cli, own_ckpt, tmp_path, no_curvature, content,
                                                                   what):
    """JSON that is no object ended in an internal error (exit 5); ``prune`` took a spectrum
    report's ρ* (no ε, no record of the model it was for) that ``verify`` refused: both
    now refuse every such file with one line naming what it holds and the fix."""
    bad = tmp_path / "b.json"
    bad.write_text(content)
    for command in (("verify",), ("prune", "--ratio", "auto", "-o", tmp_path / "p.pt")):
        result = cli(*command, own_ckpt, *SAMPLES, "--from", bad)
        assert result.exit_code == 3, result.stderr
        assert what in result.stderr and "prunelimit bounds --json" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "p.pt").exists()


def test_verify_from_states_this_runs_curvature_work_not_the_saved_runs(cli, own_ckpt, saved_bounds, no_curvature):
    """``verify --from`` copied the saved report's ``timing`` (its HVPs, seconds and
    ``cached``) as if this run had spent them: it states this run's, which spent none."""
    assert json.loads(saved_bounds.read_text())["timing"]["hvps"] > 0
    doc = _json(cli("verify", own_ckpt, *SAMPLES, "--from", saved_bounds, "--json"))
    # the saved run's prediction of the exact spectrum, and whether it was its columns' alone, may stay
    prediction = {"predicted_exact_seconds": None, "predicted_exact_columns_only": None}
    assert doc["timing"] | prediction | {"search": None} == \
        {"seconds": 0.0, "stages": {}, "hvps": 0, "hvp_passes": 0.0, "cached": False, **prediction, "search": None}
    assert doc["timing"]["search"]["seconds"] > 0  # the search this run made, outside the spectrum's seconds


def test_verify_from_states_the_uncertainty_it_read_not_the_saved_text(cli, own_ckpt, saved_bounds, tmp_path,
                                                                     no_curvature):
    """A saved ± its parts do not give (another version's arithmetic) is no ±
    (``Uncertainty.from_json``): the console and the gate read none, and ``verify --json``
    copied the saved text into its ``prediction`` as is. (A ± that is not a number is refused:
    test_a_plus_minus_of_the_wrong_type_is_refused_not_read_as_none_stated.)"""
    report = json.loads(saved_bounds.read_text())
    report["prediction"]["uncertainty"] = {**report["prediction"]["uncertainty"], "plus_minus": 0.5}
    report["prediction"]["stderr"] = "x"
    saved = tmp_path / "broken.json"
    saved.write_text(json.dumps(report))
    doc = _json(cli("verify", own_ckpt, *SAMPLES, "--from", saved, "--json"))
    assert doc["prediction"]["uncertainty"] is None and doc["prediction"]["stderr"] is None
    assert doc["prediction"]["ratio"] == report["prediction"]["ratio"]


def test_verify_shows_the_actual_limit_search_and_its_sweep_on_the_bar(tmp_path):
    """After the spectrum, `verify`'s search (and --sweep) prunes and evaluates the model on
    the data again and again, with the bar held at the spectrum's last count meanwhile. The
    passes now count against the search's most (its loss and accuracy halves' worst cases)
    plus the sweep's points, then the exact count once the search is done."""
    from prunelimit import api
    from prunelimit.inputs import load_inputs
    from prunelimit.pruning.actual import DEFAULT_MAX_EVALUATIONS

    example = Path(__file__).resolve().parents[1] / "examples" / "digits-mlp.pt"
    inputs = load_inputs(str(example), data="digits:train", batch_size=64, max_samples=300, device="cpu")
    seen = []
    rep = api.verify(inputs, api.CurvatureOptions(method="slq", max_hvps=60), sweep=5,
                     progress=lambda done, total=None, text=None: seen.append((done, total, text)))
    search = [(done, total) for done, total, text in seen if text and text.startswith("actual-limit search")]
    # the sweep's own passes: its ratios the search had not measured (the dense one it had)
    end = rep.actual.evaluations + rep.actual.sweep_evaluations
    assert rep.actual.sweep_evaluations < 5
    assert [done for done, _ in search] == list(range(1, end + 1)) and search[-1] == (end, end)
    # the most, then the exact count once the search is done and the sweep's points are left; the most
    # counts a pass for each ratio the prediction names (ρ*, ρ_L, ρ* − 5 points), which the search may measure
    totals = [total for _, total in search]
    assert totals[0] <= 2 * DEFAULT_MAX_EVALUATIONS - 1 + 5 + 3 and totals == sorted(totals, reverse=True)
    assert all(done <= total for done, total in search)


@pytest.mark.parametrize("ratio", ["auto", "0.5"], ids=["auto-from", "given"])
def test_prune_states_its_own_time_where_no_spectrum_stood_behind_it(cli, own_ckpt, saved_bounds, tmp_path,
                                                                     no_curvature, ratio):
    """``prune --ratio auto --from b.json --json`` (and a given ratio) printed ``timing: null``:
    what the run itself took went unsaid. It states no curvature work, as ``verify --from``
    does, and the pruning's own seconds (``timing.prune.seconds``)."""
    extra = ("--from", saved_bounds) if ratio == "auto" else ()
    doc = _json(cli("prune", own_ckpt, *SAMPLES, "--ratio", ratio, *extra, "-o", tmp_path / "p.pt", "--json"))
    timing = doc["timing"]
    assert timing["hvps"] == 0 and timing["stages"] == {} and timing["cached"] is False and timing["seconds"] == 0
    assert timing["prune"]["seconds"] > 0


def test_gate_from_a_report_of_another_pruning_path_names_a_fix_the_gate_takes(cli, own_ckpt, tmp_path):
    """``gate --from`` a ``--scope layer`` report said "use --scope layer": gate has no
    ``--scope`` (it gates the global path), so that fix was an error of its own."""
    path = tmp_path / "layer.json"
    path.write_text(cli("bounds", own_ckpt, *SAMPLES, "--scope", "layer", "--no-cache", "--json").stdout)
    result = cli("gate", own_ckpt, *SAMPLES, "--from", path, "--min-ratio", "0")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "use --scope" not in result.stderr
    assert "gates the limit of global pruning" in result.stderr and "drop --from" in result.stderr


def test_gate_from_a_report_whose_plus_minus_is_incomplete_names_a_fix_beside_from(cli, own_ckpt, saved_bounds,
                                                                                   tmp_path, no_curvature):
    """A saved report over a subset of the samples fails a min-ratio rule: the fix said "pass
    --hessian-samples all", a flag refused beside ``--from``. It now says to store the report so."""
    doc = json.loads(saved_bounds.read_text())
    doc["spectrum"]["hessian_samples"] = {**(doc["spectrum"]["hessian_samples"] or {}), "used": 100, "total": 300}
    subset = tmp_path / "subset.json"
    subset.write_text(json.dumps(doc))
    # above 0: every ratio meets --min-ratio 0, whatever its ±
    result = cli("gate", own_ckpt, *SAMPLES, "--from", subset, "--min-ratio", "0.01", "--json")
    assert result.exit_code == 1, result.stderr
    reason = json.loads(result.stdout)["reason"]
    assert f"when storing {subset}" in reason and "--hessian-samples all" in reason and "drop --from" in reason
    flags = ("--from", subset, "--hessian-samples", "all")
    refused = cli("gate", own_ckpt, *SAMPLES, *flags, "--min-ratio", "0")
    assert refused.exit_code == 2  # why the fix cannot be typed beside --from


def test_gate_from_a_report_missing_the_bound_it_gates_names_the_file(cli, own_ckpt, saved_bounds, tmp_path,
                                                                      no_curvature):
    """A hand-edited report without its ``bounds`` was refused as "the bounds result is not a
    prunelimit bounds/verify report": which file, the user had to guess."""
    doc = json.loads(saved_bounds.read_text())
    del doc["bounds"]
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc))
    result = cli("gate", own_ckpt, *SAMPLES, "--from", edited, "--min-ratio", "0")
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert str(edited) in result.stderr and "lower" in result.stderr


@pytest.mark.parametrize("command", ["gate", "prune", "verify"])
@pytest.mark.parametrize("field, value", [("lower", 0.9999), ("upper", 0.0001)])
def test_a_report_whose_bounds_do_not_hold_its_prediction_is_refused_naming_the_file(cli, own_ckpt, saved_bounds,
                                                                                     tmp_path, no_curvature,
                                                                                     command, field, value):
    """ρ_L ≤ ρ* ≤ ρ_U holds in every report prunelimit writes (one spectrum, one root finder); a
    file edited by hand to ρ_L above ρ* was gated on in silence (the gate passed on it)."""
    doc = json.loads(saved_bounds.read_text())
    doc["bounds"][field] = value
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc))
    extra = {"gate": ("--min-ratio", "0"), "prune": ("--ratio", "auto", "-o", tmp_path / "p.pt"), "verify": ()}
    result = cli(command, own_ckpt, *SAMPLES, "--from", edited, *extra[command])
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert str(edited) in result.stderr and f"bounds.{field}" in result.stderr
    assert not (tmp_path / "p.pt").exists()


@pytest.mark.parametrize("use", ["lower", "predicted", "actual"])
@pytest.mark.parametrize("field, value", [("lower", 0.9999), ("upper", 0.0001)])
def test_a_baseline_whose_bounds_do_not_hold_its_prediction_is_refused_naming_the_file(cli, own_ckpt, saved_bounds,
                                                                                       tmp_path, no_curvature,
                                                                                       use, field, value):
    """A gate baseline is held to ρ_L ≤ ρ* ≤ ρ_U as ``--from``'s report is: one edited to ρ_L
    above ρ* was gated on, and a CI job failed on a drop ("ρ_L 0.8590 vs baseline 0.9500")
    nothing computed, where the file is what is wrong (exit 3, naming it and the field)."""
    doc = json.loads(saved_bounds.read_text())
    doc["bounds"][field] = value
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc))
    result = cli("gate", own_ckpt, *SAMPLES, "--baseline", edited, "--max-drop", "0.02", "--use", use)
    assert result.exit_code == 3 and "Traceback" not in result.output, result.output
    assert f"baseline {edited}" in result.stderr and f"bounds.{field} is out of order" in result.stderr


@pytest.mark.parametrize("command", ["gate", "verify", "prune"])
def test_from_in_a_config_file_reads_the_report_as_the_flag_does(cli, own_ckpt, saved_bounds, tmp_path, command,
                                                                 no_curvature):
    """A config file's keys are the option names (docs/guide.md, "Configuration files"):
    `from:` reads the report from the file's own folder, as `--from` does; it was refused
    as an unknown option, whose list named the internal `from_report` instead."""
    folder = tmp_path / "ci"
    folder.mkdir()
    (folder / "b.json").write_text(saved_bounds.read_text())
    config = folder / "policy.yaml"
    config.write_text(f"{command}:\n  from: b.json\n")
    extra = {"gate": ("--min-ratio", "0.01"), "verify": (), "prune": ("--ratio", "auto", "-o", tmp_path / "p.pt")}
    flag = _json(cli(command, own_ckpt, *SAMPLES, "--no-cache", "--from", folder / "b.json", *extra[command], "--json"))
    if command == "prune":
        (tmp_path / "p.pt").unlink()
    given = _json(cli(command, own_ckpt, *SAMPLES, "--no-cache", "--config", config, *extra[command], "--json"))
    ratio = {"gate": lambda d: d["bounds"]["bounds"]["lower"], "verify": lambda d: d["prediction"]["ratio"],
             "prune": lambda d: d["ratio"]["requested"]}[command]
    assert ratio(given) == ratio(flag)
    assert given["timing"]["hvps"] == 0


def test_a_config_file_refusing_a_key_lists_the_option_names(cli, own_ckpt, tmp_path):
    config = tmp_path / "policy.yaml"
    config.write_text("gate:\n  form: b.json\n")
    result = cli("gate", own_ckpt, "--config", config)
    assert result.exit_code == 2
    # the nearest option is named as a config file spells it, never by its internal name
    assert "did you mean 'from'?" in result.stderr and "from_report" not in result.stderr


def test_a_failed_gate_prints_each_rules_fix_in_the_log_the_json_and_junit(cli, own_ckpt, saved_bounds, tmp_path,
                                                                          no_curvature):
    """The CI reader sees what to do where they look: a fix line under the FAIL line, `fix`
    in the JSON rule (null when it passed) and in the JUnit failure message."""
    args = (own_ckpt, *SAMPLES, "--no-cache", "--from", saved_bounds, "--min-ratio", "0.999")
    lines = cli("gate", *args).stdout.splitlines()
    fail = next(i for i, line in enumerate(lines) if line.startswith("FAIL"))
    assert lines[fail + 1].startswith("  fix: ") and "--min-ratio" in lines[fail + 1]
    result = cli("gate", *args, "--json", "--junit", tmp_path / "g.xml")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["rules"][0]["fix"] == document["fix"] and "--min-ratio" in document["fix"]
    assert document["fix"] in (tmp_path / "g.xml").read_text().replace("&gt;", ">").replace("&lt;", "<")
    passed = json.loads(cli("gate", own_ckpt, *SAMPLES, "--no-cache", "--from", saved_bounds, "--min-ratio", "0",
                            "--json").stdout)
    assert passed["fix"] is None and passed["rules"][0]["fix"] is None


def _edited(saved_bounds, tmp_path, edit) -> Path:
    doc = json.loads(saved_bounds.read_text())
    edit(doc)
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc))
    return edited


_FROM_COMMANDS = {"gate": ("--min-ratio", "0"), "verify": (), "prune": ("--ratio", "auto", "-o", "p.pt")}


@pytest.mark.parametrize("edit, said", [
    (lambda d: d.pop("schema"), "is not a prunelimit bounds report"),
    (lambda d: d.pop("epsilon"), "epsilon is missing"),
    (lambda d: d.update(epsilon="0.02"), "epsilon is missing or not a positive number"),
    (lambda d: d["spectrum"].pop("trace"), "spectrum.trace"),
    (lambda d: d["prediction"].update(radius=None), "prediction.radius"),
])
def test_gate_verify_and_prune_refuse_alike_a_report_edited_out_of_shape(cli, own_ckpt, saved_bounds, tmp_path,
                                                                         no_curvature, monkeypatch, edit, said):
    """A hand-edited report without its schema or ε, or with a field of the wrong type, was
    refused by ``gate --from`` and ``verify --from`` (exit 3) and pruned to by ``prune --from``
    in silence (exit 0, a pruned file written): one reader now refuses it for all three."""
    monkeypatch.chdir(tmp_path)
    edited = _edited(saved_bounds, tmp_path, edit)
    for command, extra in _FROM_COMMANDS.items():
        result = cli(command, own_ckpt, *SAMPLES, "--from", edited, *extra)
        assert result.exit_code == 3, (command, result.output)
        assert said in result.stderr and str(edited) in result.stderr and "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "p.pt").exists()


@pytest.mark.parametrize("command", list(_FROM_COMMANDS))
@pytest.mark.parametrize("section, field, towards", [("prediction", "ratio", ("bounds", "upper")),
                                                     ("bounds", "lower", ("prediction", "ratio")),
                                                     ("bounds", "upper", ("prediction", "ratio"))])
def test_a_ratio_edited_inside_its_bounds_is_refused_by_its_density(cli, own_ckpt, saved_bounds, tmp_path,
                                                                    no_curvature, monkeypatch, command, section,
                                                                    field, towards):
    """ρ* (or ρ_L) edited by hand to another value that still lies inside its bounds was gated,
    verified and pruned to as if computed: every report writes each ratio beside its density,
    1 − ratio, and the edit left the density behind; the pair that no longer adds up to 1 is
    now named (exit 3)."""
    monkeypatch.chdir(tmp_path)

    def edit(doc):
        doc[section][field] = (doc[section][field] + doc[towards[0]][towards[1]]) / 2

    edited = _edited(saved_bounds, tmp_path, edit)
    result = cli(command, own_ckpt, *SAMPLES, "--from", edited, *_FROM_COMMANDS[command])
    assert result.exit_code == 3, result.output
    assert f"{section}.{field}" in result.stderr and str(edited) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "p.pt").exists()



@pytest.mark.parametrize("edit", [lambda d: d["prediction"]["uncertainty"].update(plus_minus="0.01"),
                                  lambda d: d["prediction"]["uncertainty"].update(plus_minus=-0.01),
                                  lambda d: d["prediction"].update(uncertainty=0.01)])
def test_a_plus_minus_of_the_wrong_type_is_refused_not_read_as_none_stated(cli, own_ckpt, saved_bounds, tmp_path,
                                                                          no_curvature, monkeypatch, edit):
    """A ± edited to text, a negative number or a bare number was read as "the report states
    none": the gate failed its rule for a reason the file did not give (exit 1), verify and
    prune went on without it (exit 0). A ± stated out of shape is a damaged file (exit 3);
    one stated as null or left out (an older report) is still read as none stated."""
    monkeypatch.chdir(tmp_path)
    edited = _edited(saved_bounds, tmp_path, edit)
    for command, extra in _FROM_COMMANDS.items():
        result = cli(command, own_ckpt, *SAMPLES, "--from", edited, *extra)
        assert result.exit_code == 3, (command, result.output)
        assert "prediction.uncertainty" in result.stderr and str(edited) in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "p.pt").exists()
    older = _edited(saved_bounds, tmp_path, lambda d: d["prediction"]["uncertainty"].update(plus_minus=None))
    assert cli("verify", own_ckpt, *SAMPLES, "--from", older).exit_code == 0


@pytest.mark.parametrize("command", list(_FROM_COMMANDS))
@pytest.mark.parametrize("line, said", [("epsilon: 0.5", "epsilon auto vs 0.5"),
                                        ("method: paper", "method default vs paper")])
def test_a_config_option_other_than_the_reports_refuses_it_as_stale(cli, own_ckpt, saved_bounds, tmp_path,
                                                                    no_curvature, monkeypatch, command, line, said):
    """A --config file shared by the `bounds` step and the --from step: ε (or the method, for
    paper's grid arithmetic) changed in it after b.json was stored left the old prediction
    gated, verified and pruned to in silence. An option the file sets at the report's own
    value (or a method of the same arithmetic) still passes."""
    monkeypatch.chdir(tmp_path)
    stale = tmp_path / "stale.yaml"
    stale.write_text(f"from: {saved_bounds}\n{line}\n")
    result = cli(command, own_ckpt, *SAMPLES, "--config", stale, *_FROM_COMMANDS[command])
    assert result.exit_code == 2, result.output
    assert said in result.stderr and str(saved_bounds) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "p.pt").exists()
    same = tmp_path / "same.yaml"
    same.write_text(f"from: {saved_bounds}\nepsilon: auto\neta: 0.01\nmethod: exact\n")
    assert cli(command, own_ckpt, *SAMPLES, "--config", same, *_FROM_COMMANDS[command]).exit_code == 0


@pytest.mark.parametrize("command", list(_FROM_COMMANDS))
def test_from_a_dash_in_a_config_file_is_refused_as_the_flag_is(cli, own_ckpt, tmp_path, monkeypatch, command):
    """`from: "-"` in a config file was read as a file named `-` beside it ("not found"),
    where `--from -` says reports are read from files, not standard input: the same now."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "ci"
    folder.mkdir()
    (folder / "policy.yaml").write_text('from: "-"\n')
    flag = cli(command, own_ckpt, *SAMPLES, "--from", "-", *_FROM_COMMANDS[command])
    given = cli(command, own_ckpt, *SAMPLES, "--config", folder / "policy.yaml", *_FROM_COMMANDS[command])
    assert given.exit_code == flag.exit_code == 3 and given.stderr == flag.stderr
    assert "standard input" in given.stderr and not (tmp_path / "p.pt").exists()


def test_a_failed_policy_rule_names_its_key_in_the_file_in_the_log_the_json_and_junit(cli, own_ckpt, saved_bounds,
                                                                                     tmp_path, no_curvature):
    """A rule written in a --config policy said to pass `--min-ratio X`: its reader edits
    `min_ratio: X` in that file, and the console, the JSON `fix` and JUnit now say so; a
    --min-ratio typed beside the file still names the flag."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"gate:\n  from: {saved_bounds}\n  rules:\n    - name: floor\n      min_ratio: 0.999\n")
    args = (own_ckpt, *SAMPLES, "--no-cache", "--config", policy)
    result = cli("gate", *args, "--json", "--junit", tmp_path / "g.xml")
    assert result.exit_code == 1
    fix = json.loads(result.stdout)["rules"][0]["fix"]
    assert f"in {policy})" in fix and "min_ratio: " in fix and "--min-ratio" not in fix
    assert fix in (tmp_path / "g.xml").read_text().replace("&gt;", ">").replace("&lt;", "<")
    log = cli("gate", *args).stdout  # wrapped to the terminal's width
    assert "fix: " in log and "(min_ratio: 0." in log and "--min-ratio" not in log
    typed = json.loads(cli("gate", *args, "--min-ratio", "0.999", "--json").stdout)["rules"]
    assert "--min-ratio" in typed[0]["fix"] and f"in {policy})" in typed[1]["fix"]


@pytest.mark.parametrize("args, passes", [
    (("gate", "--from", "{saved}", "--min-ratio", "0"), False),
    (("gate", "--use", "actual", "--min-ratio", "0"), False),
    (("verify", "--from", "{saved}"), False),
    (("prune", "--ratio", "auto", "--from", "{saved}", "-o", "{out}"), False),
    (("prune", "--ratio", "0.5", "-o", "{out}"), False),
    (("prune", "--ratio", "auto", "--from", "{saved}", "--finetune-epochs", "1", "-o", "{out}"), True),
    (("verify", "--from", "{saved}", "--refit", "--finetune-epochs", "1"), True),  # as the library's seed=
])
def test_a_seed_where_nothing_is_drawn_is_refused(cli, own_ckpt, saved_bounds, no_curvature, tmp_path, args, passes):
    """--seed draws SLQ's probes and the Hessian's subset, and the shuffling of fine-tuning:
    beside --from (or --use actual, or a numeric --ratio) with nothing fine-tuned it changed
    nothing and was accepted in silence. Refused there, as the curvature flags are (exit 2,
    nothing written); it still seeds prune's --finetune-epochs."""
    out = tmp_path / "p.pt"
    command, rest = args[0], [a.format(saved=saved_bounds, out=out) for a in args[1:]]
    result = cli(command, own_ckpt, *SAMPLES, *rest, "--seed", "3")
    if passes:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2, result.output
    assert "--seed has no effect" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_a_report_without_a_lower_bound_is_a_usage_error_for_what_reads_rho_l(cli, tmp_path, no_curvature):
    """A ``bounds --bound-mode none`` report is whole: it computes no ρ_L on purpose. ``gate
    --from`` (a lower rule, the default), ``prune --from --ratio lower`` and a lower rule's
    ``--baseline`` called it damaged (exit 3, ``the lower ratio (bounds.lower) is missing or not
    a number``); they now say what the report was computed with and what to read instead,
    exit 2, as ``gate --bound-mode none`` does without ``--from``."""
    from prunelimit.theory.uncertainty import EXACT

    doc = json.loads((Path(__file__).resolve().parents[1] / "examples" / "ci" / "baseline.json").read_text())
    doc["bounds"].update(lower=None, upper=None, lower_density=None, upper_density=None, mode="none")
    doc["options"]["bound_mode"] = "none"
    doc["prediction"]["uncertainty"] = EXACT.to_json()
    none = tmp_path / "none.json"
    none.write_text(json.dumps(doc))
    example = Path(__file__).resolve().parents[1] / "examples" / "digits-mlp.pt"
    said = (f"{none} was computed with --bound-mode none, which computes no ρ_L (bounds.lower): read ρ* instead "
            "(gate --use predicted, prune --ratio auto), or store the report again without --bound-mode none")
    for args in (("gate", example, "--from", none, "--min-ratio", "0.1"),
                 ("prune", example, "--from", none, "--ratio", "lower", "-o", tmp_path / "p.pt")):
        result = cli(*args)
        assert result.exit_code == 2 and result.stderr.strip() == f"prunelimit: error: {said}", result.stderr
    assert not (tmp_path / "p.pt").exists()
    predicted = cli("gate", example, "--from", none, "--min-ratio", "0.1", "--use", "predicted")
    assert predicted.exit_code == 0, predicted.stderr
