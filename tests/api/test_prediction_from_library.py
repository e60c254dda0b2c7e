"""The library form of ``--from``: ``prunelimit.verify``, ``gate`` and ``prune`` take the
prediction from a ``BoundsReport`` in hand or a saved ``bounds --json`` file
(``prediction_from``), checked as ``--from`` checks it, so a notebook pays for the spectrum
once."""

from __future__ import annotations

import json
import re

import pytest
import torch

import prunelimit
from prunelimit.errors import InputError, OptionError, UsageError
from prunelimit.report.jsonout import document


@pytest.fixture
def computed(model, train) -> prunelimit.api.BoundsReport:
    return prunelimit.bounds(model, train, method="exact")


@pytest.fixture
def saved(computed, tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(document("bounds", computed.to_json())))
    return path


@pytest.mark.parametrize("source", ["computed", "saved"])
def test_verify_gate_and_prune_read_a_prediction_and_compute_no_spectrum(model, train, computed, saved, source,
                                                                         no_curvature):
    given = {"computed": computed, "saved": saved}[source]
    name = str(saved) if source == "saved" else "the BoundsReport given as prediction_from"
    report = prunelimit.verify(model, train, prediction_from=given)
    # a report in hand is held as given (it passes on), a file's is not rebuilt
    assert report.bounds is (computed if source == "computed" else None)
    assert report.prediction.ratio == computed.ratio
    assert report.prediction.lower == computed.lower and report.prediction.source == name
    doc = report.to_json()
    assert doc["timing"]["hvps"] == 0 and doc["prediction_from"] == name
    verdict = prunelimit.gate(model, train, min_ratio=0.0, use="predicted", prediction_from=given)
    assert verdict.passed and verdict.result.outcomes[0].measured == computed.ratio
    assert verdict.prediction_from == name and verdict.to_json()["timing"]["hvps"] == 0
    pruning = prunelimit.prune(model, "auto", train, prediction_from=given)
    assert pruning.requested == computed.ratio and pruning.source == f"auto from {name}"


def _calls_reading(model, data, source) -> tuple:
    """``verify``, ``gate`` and ``prune`` reading their prediction from ``source``, each a call to make."""
    return (lambda: prunelimit.verify(model, data, prediction_from=source),
            lambda: prunelimit.gate(model, data, min_ratio=0.0, prediction_from=source),
            lambda: prunelimit.prune(model, "auto", data, prediction_from=source))


def test_a_report_of_other_weights_is_refused_in_the_librarys_terms(model, train, computed):
    other = type(model)(*[layer for layer in torch.nn.Sequential(*model)])  # same shapes...
    other.load_state_dict(model.state_dict())
    with torch.no_grad():
        other[0].weight.mul_(2)  # ... other weights
    for call in _calls_reading(other, train, computed):
        with pytest.raises(UsageError, match="the weights differ") as caught:
            call()
        assert "prediction_from=" in str(caught.value) and "--from" not in str(caught.value)


def test_a_report_of_another_pruning_path_is_refused(model, train, computed):
    with pytest.raises(UsageError, match="predicts the limit of global pruning, not layer") as caught:
        prunelimit.verify(model, train, scope="layer", prediction_from=computed)
    assert "scope='global'" in str(caught.value) and "--scope" not in str(caught.value)


def test_curvature_options_beside_a_read_prediction_are_refused(model, train, computed):
    """The report decides the method and ε, as ``--from`` refuses the flags beside it."""
    with pytest.raises(UsageError, match="method has no effect") as caught:
        prunelimit.verify(model, train, prediction_from=computed, method="slq")
    assert "read from prediction_from" in str(caught.value)
    with pytest.raises(UsageError, match="epsilon has no effect"):
        prunelimit.gate(model, train, min_ratio=0.0, prediction_from=computed, epsilon=0.1)
    with pytest.raises(UsageError, match="prediction_from"):  # a given ratio predicts nothing
        prunelimit.prune(model, 0.5, train, prediction_from=computed)


def test_a_prediction_from_of_another_kind_is_refused_naming_it(model, train):
    with pytest.raises(OptionError, match="prediction_from"):
        prunelimit.verify(model, train, prediction_from=0.8)


def test_a_seed_beside_a_read_prediction_seeds_the_refit_as_the_command_line_does(model, train, computed):
    """``--seed`` beside ``verify --from --refit`` seeds the fine-tuning; the library refused
    ``seed=`` beside ``prediction_from`` even with ``refit=True``. Now its refit is the one a
    computed prediction's run with that seed measures, and without ``refit`` (nothing drawn)
    ``seed`` is still refused, naming the fix."""
    refit = dict(refit=True, finetune_epochs=1, sweep=0)
    read = prunelimit.verify(model, train, prediction_from=computed, seed=3, **refit)
    assert read.refit == prunelimit.verify(model, train, method="exact", seed=3, **refit).refit
    with pytest.raises(UsageError, match="seed has no effect") as caught:
        prunelimit.verify(model, train, prediction_from=computed, seed=3)
    assert "add refit=True" in str(caught.value)
    for call in (lambda: prunelimit.gate(model, train, min_ratio=0.0, prediction_from=computed, seed=3),
                 lambda: prunelimit.prune(model, "auto", train, prediction_from=computed, seed=3)):
        with pytest.raises(UsageError, match="seed has no effect"):  # nothing fine-tunes there
            call()


def test_a_saved_to_json_without_its_schema_says_how_to_save_it(model, train, computed, tmp_path, no_curvature):
    """``to_json()`` is the ``--json`` document without its ``schema`` key: saved as it is, it
    was refused with the command line's fix (``write it with `prunelimit bounds --json```),
    which a notebook has no use for; the library names the call that adds the key."""
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(computed.to_json()))
    for call in _calls_reading(model, train, bare):
        with pytest.raises(InputError, match="no schema key") as caught:
            call()
        assert "document('bounds', result.to_json())" in str(caught.value) and "--json" not in str(caught.value)


def test_a_result_in_hand_where_a_saved_report_is_taken_says_what_to_give(model, train, computed, tmp_path):
    """A verify or gate result given as ``prediction_from``, or any result as ``baseline``, was
    refused as no file name ('prediction_from must be a file name, got VerifyReport(…)'),
    without a fix; the message now names what to give, and that fix works."""
    verified = prunelimit.verify(model, train, method="exact")
    with pytest.raises(OptionError, match=r"^prediction_from takes a BoundsReport or the file name of a saved report, "
                                          r"got a VerifyReport; give the BoundsReport it computed, "
                                          r"prediction_from=report.bounds$"):
        prunelimit.prune(model, "auto", train, prediction_from=verified)
    assert prunelimit.prune(model, "auto", train, prediction_from=verified.bounds).requested == computed.ratio
    verdict = prunelimit.gate(model, train, min_ratio=0.1, prediction_from=computed)  # holds no BoundsReport
    with pytest.raises(OptionError, match=r"^prediction_from takes a BoundsReport or the file name of a saved report, "
                                          r"got a GateReport; save it to a file with its schema key, json.dump\("
                                          r"prunelimit.report.jsonout.document\('gate', report.to_json\(\)\), file\), "
                                          r"and give the file's name$"):
        prunelimit.verify(model, train, prediction_from=verdict)
    with pytest.raises(OptionError, match=r"^baseline takes the file name of a saved report, got a BoundsReport; save "
                                          r"it to a file .*document\('bounds', report.to_json\(\)\)"):
        prunelimit.gate(model, train, baseline=computed, max_drop=0.1)
    saved = tmp_path / "gate.json"
    with open(saved, "w") as file:  # the fix as the message writes it
        json.dump(document("gate", verdict.to_json()), file)
    assert prunelimit.verify(model, train, prediction_from=saved).prediction.ratio == computed.ratio
    assert prunelimit.gate(model, train, baseline=saved, max_drop=0.1, prediction_from=computed).passed
    with pytest.raises(OptionError, match=r"^baseline takes the file name of a saved report, got a SpectrumReport; "
                                          r"a spectrum holds no ε or bounds: compute them, report = "
                                          r"prunelimit.bounds\(model, data, …\) with the spectrum's keywords, and "
                                          r"save the report to a file .*document\('bounds', report.to_json\(\)\)"):
        prunelimit.gate(model, train, baseline=computed.spectrum, max_drop=0.1)


def test_a_spectrum_as_prediction_is_told_how_to_get_a_bounds_report(model, train, computed):
    """``prediction_from=prunelimit.spectrum(...)`` was told "give a saved bounds, verify or
    gate report", not how to get one; it now names ``prunelimit.bounds`` and the keyword."""
    for call in _calls_reading(model, train, computed.spectrum):
        with pytest.raises(OptionError, match=r"^prediction_from takes a BoundsReport or the file name of a saved "
                                              r"report, got a SpectrumReport; a spectrum holds no ε or bounds: compute "
                                              r"them, report = prunelimit.bounds\(model, data, …\) with the spectrum's "
                                              r"keywords, and give prediction_from=report$"):
            call()


def test_a_result_as_a_rules_baseline_is_told_as_the_baseline_keyword_is(model, train, computed, tmp_path):
    """``rules=[{'baseline': report, …}]`` said "gate rule 'rule 1': baseline must be a file
    name, got BoundsReport(spectrum=…" (the repr cut off), without what to give: it is told as
    ``baseline=report`` is, under the rule's name, and the fix it gives works."""
    verified = prunelimit.verify(model, train, prediction_from=computed)
    with pytest.raises(UsageError, match=r"^gate rule 'rule 2': baseline takes the file name of a saved report, got a "
                                         r"VerifyReport; save it to a file with its schema key, json.dump\(prunelimit"
                                         r"\.report\.jsonout\.document\('verify', report\.to_json\(\)\), file\), and give "
                                         r"the file's name$"):
        prunelimit.gate(model, train, rules=[{"min_ratio": 0.1}, {"baseline": verified, "max_drop": 0.1}],
                        prediction_from=computed)
    with pytest.raises(UsageError, match=r"^gate rule 'tight': baseline takes the file name of a saved report, got a "
                                         r"BoundsReport; save it"):
        prunelimit.gate(model, train, rules=[{"name": "tight", "baseline": computed, "max_drop": 0.1}])
    saved = tmp_path / "verify.json"
    with open(saved, "w") as file:  # the fix as the message writes it
        json.dump(document("verify", verified.to_json()), file)
    assert prunelimit.gate(model, train, rules=[{"baseline": saved, "max_drop": 0.1}], prediction_from=computed).passed


def test_a_result_as_prunes_ratio_is_told_how_to_give_its_prediction(model, train, computed, saved):
    """``prune(model, result)`` said "ratio must be …, got BoundsReport(spectrum=SpectrumReport(
    method=…, a BoundsReport, not a number", without the fix; a verify result alike. Both
    fixes the message gives are taken and prune to the result's ρ*."""
    verified = prunelimit.verify(model, train, method="exact")  # computes its bounds, and holds them
    for result, held in ((computed, "result"), (verified, "result.bounds")):
        with pytest.raises(OptionError, match=rf"^ratio must be a removed fraction in \[0, 1\), 'auto' or 'lower', got a "
                                              rf"{type(result).__name__}; give ratio='auto' \(its ρ\*\) or 'lower' \(its "
                                              rf"ρ_L\) with the data and prediction_from={re.escape(held)}, or a number, "
                                              rf"such as {re.escape(held)}\.ratio$"):
            prunelimit.prune(model, result, train)
    assert prunelimit.prune(model, "auto", train, prediction_from=verified.bounds).requested == computed.ratio
    assert prunelimit.prune(model, computed.ratio).requested == computed.ratio
    read = prunelimit.verify(model, train, prediction_from=saved)  # holds no bounds: a file's are not rebuilt
    with pytest.raises(OptionError, match=r", got a VerifyReport; give a number, result\.prediction\.ratio \(its ρ\*\) "
                                          r"or result\.prediction\.lower \(its ρ_L\)$"):
        prunelimit.prune(model, read, train)
    assert prunelimit.prune(model, read.prediction.lower).requested == computed.lower
    # a spectrum was told only "got SpectrumReport(ρ* = …, a SpectrumReport, not a number"
    with pytest.raises(OptionError, match=r", got a SpectrumReport, which holds no ε or bounds; give ratio='auto' "
                                          r"\(ρ\*\) or 'lower' \(ρ_L\) with the data and prediction_from="
                                          r"prunelimit\.bounds\(model, data, …\), or a number$"):
        prunelimit.prune(model, computed.spectrum, train)


def test_inputs_given_as_the_model_are_told_to_give_its_model(model, train):
    """An ``Inputs`` (from ``inputs_from``) passed where a model goes said only "model must be
    a torch.nn.Module, got Inputs"."""
    given = prunelimit.inputs_from(model, train)
    with pytest.raises(UsageError, match=r"^model must be a torch\.nn\.Module, got Inputs; give its model, "
                                         r"inputs\.model, and the data \(an Inputs goes to prunelimit\.api's commands\)$"):
        prunelimit.bounds(given, train)
    found, expected = (prunelimit.bounds(m, train, method="exact") for m in (given.model, model))
    assert (found.ratio, found.lower) == (expected.ratio, expected.lower)
