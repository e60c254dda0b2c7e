"""``gate --from`` states whether the prediction it stands on overshoots (``overshoot``,
docs/guide.md "Gating in CI"), also when the saved report states no check: a report of an
older prunelimit has no ``overshoot``, and the gate's ``overshoot`` was ``null`` in silence,
which ``jq -e '.overshoot.lower | not'`` reads as "no overshoot" on a plainly trained model."""

from __future__ import annotations

import json
import re

import pytest
import torch

import prunelimit
from prunelimit.errors import InputError
from prunelimit.report.jsonout import document
from tests.conftest import SPEC


@pytest.fixture(scope="module")
def plain():
    """A plainly trained MLP (Adam, no l1) on 300 digits: ρ_L lies past its one-shot limit."""
    from prunelimit.data.spec import load_dataset
    from prunelimit.models.spec import build_model
    from tests.conftest import adam_fit

    data = load_dataset("digits:train", max_samples=300)
    torch.manual_seed(0)
    return adam_fit(build_model(SPEC), data.x, data.y, steps=200).eval(), (data.x, data.y)


@pytest.fixture(scope="module")
def computed(plain):
    model, data = plain
    return document("bounds", prunelimit.bounds(model, data, method="exact").to_json())


def _older(report: dict) -> dict:
    """``report`` as a prunelimit before the overshoot check wrote it: no ``overshoot`` and
    none of the warnings it gives."""
    return {**{k: v for k, v in report.items() if k != "overshoot"},
            "warnings": [w for w in report["warnings"] if "overshoot" not in w]}


@pytest.mark.parametrize("rules", [[{"min_ratio": 0.3}], [{"min_ratio": 0.3}, {"min_ratio": 0.1, "use": "actual"}]])
def test_an_older_report_gets_its_overshoot_measured(plain, computed, tmp_path, no_curvature, rules) -> None:
    model, data = plain
    assert computed["overshoot"]["lower"] is True  # the case: a gate on ρ_L passes a model that breaks there
    saved = tmp_path / "old.json"
    saved.write_text(json.dumps(_older(computed)))
    doc = prunelimit.gate(model, data, rules=rules, prediction_from=saved).to_json()
    assert doc["passed"]
    # the same passes at the same ratios with the same ε: the same losses, up to summation order
    assert {k: doc["overshoot"][k] for k in ("lower", "predicted", "gap")} == \
        {k: computed["overshoot"][k] for k in ("lower", "predicted", "gap")}
    assert doc["overshoot"]["checked"]["lower"]["ratio"] == computed["bounds"]["lower"]
    assert doc["overshoot"]["loss_limit"] == pytest.approx(computed["overshoot"]["loss_limit"], rel=1e-6)
    (said,) = [w for w in doc["warnings"] if "overshoot" in w]
    assert said.startswith(f"{saved} states no overshoot check (an older report), so it was measured here: the "
                           "prediction overshoots, measured by pruning one-shot")


def test_a_stated_overshoot_is_the_reports(plain, computed, tmp_path, no_curvature) -> None:
    """A report that states its check is read as it stands: nothing measured, nothing added."""
    model, data = plain
    saved = tmp_path / "b.json"
    saved.write_text(json.dumps(computed))
    doc = prunelimit.gate(model, data, min_ratio=0.3, prediction_from=saved).to_json()
    assert doc["overshoot"] == computed["overshoot"]
    assert not any("states no overshoot check" in w for w in doc["warnings"])


@pytest.mark.parametrize("stated", ["yes", [True], {"lower": "true", "predicted": False}, {"predicted": 1}])
def test_an_overshoot_out_of_shape_is_refused(plain, computed, tmp_path, no_curvature, stated) -> None:
    """An ``overshoot`` that is no object of true/false/null flags was passed on to the
    gate's JSON as it stood ("yes"): the file was edited or damaged (exit 3, naming it)."""
    model, data = plain
    saved = tmp_path / "b.json"
    saved.write_text(json.dumps({**computed, "overshoot": stated}))
    with pytest.raises(InputError, match=rf"^{saved}: overshoot is .* not an object whose lower and predicted are "
                                         "true, false or null"):
        prunelimit.gate(model, data, min_ratio=0.3, prediction_from=saved)


def test_verify_from_an_older_report_gets_its_overshoot_measured(plain, computed, tmp_path, no_curvature) -> None:
    """``verify --from`` a report with no ``overshoot`` left the key out of its JSON (and passed
    one out of shape on as it stood), where the gate measures it: both now state the check
    alike, measured on the report's ρ*, ρ_L and ε, and say so."""
    model, data = plain
    saved = tmp_path / "old.json"
    saved.write_text(json.dumps(_older(computed)))
    doc = document("verify", prunelimit.verify(model, data, prediction_from=saved).to_json())
    # the same passes at the same ratios with the same ε as bounds ran: the same flags
    assert {k: doc["overshoot"][k] for k in ("lower", "predicted", "gap")} == \
        {k: computed["overshoot"][k] for k in ("lower", "predicted", "gap")}
    assert doc["overshoot"]["checked"]["lower"]["ratio"] == computed["bounds"]["lower"]
    assert sum("states no overshoot check (an older report), so it was measured here" in w
               for w in doc["warnings"]) == 1
    gated = prunelimit.gate(model, data, rules=[{"min_ratio": 0.3}, {"min_ratio": 0.1, "use": "actual"}],
                            prediction_from=saved).to_json()
    assert gated["overshoot"] == doc["overshoot"]
    # the same warnings, each ending in what its command says to go by (the test below)
    assert [w.rsplit("; go by ", 1)[0] for w in gated["warnings"]] == \
        [w.rsplit("; go by ", 1)[0] for w in doc["warnings"]]


@pytest.fixture(scope="module")
def layer_wise(plain):
    model, data = plain
    return document("bounds", prunelimit.bounds(model, data, method="exact", scope="layer").to_json())


def test_verify_from_an_older_layer_wise_report_measures_it_layer_wise(plain, layer_wise, tmp_path,
                                                                        no_curvature) -> None:
    """A layer-wise report's ρ* and ρ_L are ratios of the layer-wise path: measured on the
    global one, the check would judge another pruning than the report predicts."""
    model, data = plain
    computed = layer_wise
    saved = tmp_path / "old.json"
    saved.write_text(json.dumps(_older(computed)))
    doc = document("verify", prunelimit.verify(model, data, scope="layer", prediction_from=saved).to_json())
    assert {k: doc["overshoot"][k] for k in ("lower", "predicted")} == \
        {k: computed["overshoot"][k] for k in ("lower", "predicted")}
    for point in ("lower", "predicted"):  # the same weights removed at the same ratios: the same path
        assert doc["overshoot"]["checked"][point]["removed"] == computed["overshoot"]["checked"][point]["removed"]


@pytest.mark.parametrize("stated", ["yes", {"lower": "true", "predicted": False}])
def test_verify_refuses_an_overshoot_out_of_shape(plain, computed, tmp_path, no_curvature, stated) -> None:
    model, data = plain
    saved = tmp_path / "b.json"
    saved.write_text(json.dumps({**computed, "overshoot": stated}))
    with pytest.raises(InputError, match=rf"^{saved}: overshoot is .* not an object whose lower and predicted are "
                                         "true, false or null"):
        prunelimit.verify(model, data, prediction_from=saved)


@pytest.mark.parametrize("ratio", ["auto", "lower"])
def test_prune_from_an_older_report_warns_of_the_overshoot(plain, computed, tmp_path, no_curvature, ratio) -> None:
    """``prune --ratio auto|lower --from`` a report with no check pruned a plainly trained model
    past its one-shot limit with no word of it (a report that states one carries its warning);
    one out of shape was read as it stood. It is measured, or refused, as verify and gate do."""
    model, data = plain
    saved = tmp_path / "old.json"
    saved.write_text(json.dumps(_older(computed)))
    pruning = prunelimit.prune(model, ratio, data, prediction_from=saved)
    (said,) = [w for w in pruning.warnings if "overshoot" in w]
    assert said.startswith(f"{saved} states no overshoot check (an older report), so it was measured here: ")
    damaged = tmp_path / "bad.json"
    damaged.write_text(json.dumps({**computed, "overshoot": "yes"}))
    with pytest.raises(InputError, match=rf"^{damaged}: overshoot is \"yes\", not an object"):
        prunelimit.prune(model, ratio, data, prediction_from=damaged)


def test_verify_from_an_older_report_does_not_send_the_user_to_verify(plain, computed, tmp_path, no_curvature) -> None:
    """The overshoot ``verify --from`` measured for a report that states none ended "gate on
    the measured limit ... or check with prunelimit.verify": the command that was running,
    which a report that states its check is told instead ("go by the actual limit measured
    here"). Now both say the latter, and a gate with a rule on the measured limit names its
    rules, as it does for a report that states the check."""
    from prunelimit.api.limit import verify_advice
    from prunelimit.errors import library_call
    from prunelimit.theory.regime import measured_advice

    model, data = plain
    saved = tmp_path / "old.json"
    saved.write_text(json.dumps(_older(computed)))
    with library_call():  # the library's words, as its results give them
        sent, measured_here = measured_advice(), verify_advice()
    (said,) = [w for w in prunelimit.verify(model, data, prediction_from=saved).warnings
               if "states no overshoot check" in w]
    assert sent not in said and said.endswith(f"; {measured_here}")
    rules = [{"name": "floor", "min_ratio": 0.3}, {"name": "real", "min_ratio": 0.1, "use": "actual"}]
    gated = prunelimit.gate(model, data, rules=rules, prediction_from=saved).to_json()
    (said,) = [w for w in gated["warnings"] if "states no overshoot check" in w]
    assert sent not in said and measured_here not in said
    assert said.endswith("; go by rule 'real' on the measured limit; rule 'floor' reads the prediction "
                         f"(use='actual' gates it on the measured limit too){FAILS}")


def test_a_gate_reading_an_older_verify_reports_limit_names_its_rules(plain, computed, tmp_path,
                                                                     no_curvature) -> None:
    """A gate with a rule on the measured limit that reads it from a verify report stating no
    overshoot check measures the check and, like a gate that searched, names its rules rather
    than telling the user to gate on the measured limit or to run verify."""
    from prunelimit.api.limit import verify_advice
    from prunelimit.errors import library_call
    from prunelimit.theory.regime import measured_advice

    model, data = plain
    saved, bounds = tmp_path / "old.json", tmp_path / "bounds.json"
    bounds.write_text(json.dumps(computed))
    verified = document("verify", prunelimit.verify(model, data, prediction_from=bounds).to_json())
    saved.write_text(json.dumps(_older(verified)))
    rules = [{"name": "floor", "min_ratio": 0.3}, {"name": "real", "min_ratio": 0.1, "use": "actual"}]
    gated = prunelimit.gate(model, data, rules=rules, prediction_from=saved).to_json()
    assert gated["bounds"]["actual_from"] == str(saved)  # the case: the limit read, not searched
    (said,) = [w for w in gated["warnings"] if "states no overshoot check" in w]
    with library_call():
        assert measured_advice() not in said and verify_advice() not in said
    assert said.endswith("; go by rule 'real' on the measured limit; rule 'floor' reads the prediction "
                         f"(use='actual' gates it on the measured limit too){FAILS}")


@pytest.mark.parametrize("command", ["gate", "prune"])
def test_a_prediction_read_from_a_verify_report_is_told_as_bounds_tells_it(plain, computed, tmp_path, no_curvature,
                                                                           command) -> None:
    """A verify report's warnings are in verify's words: "go by the actual limit measured here".
    A gate on ρ_L alone, or a prune to ρ*, that read its prediction from such a report passed
    those words on, though it measured no limit; they now say what bounds says of the same
    prediction, but go by the limit the report measured where bounds says to check with verify
    (tests/api/test_measured_in_report.py)."""
    from prunelimit.api.limit import measured_here, verify_advice
    from prunelimit.errors import library_call
    from prunelimit.theory.regime import measured_advice

    model, data = plain
    bounds, saved = tmp_path / "bounds.json", tmp_path / "verify.json"
    bounds.write_text(json.dumps(computed))
    saved.write_text(json.dumps(document("verify", prunelimit.verify(model, data, prediction_from=bounds).to_json())))
    result = prunelimit.gate(model, data, min_ratio=0.3, prediction_from=saved) if command == "gate" else \
        prunelimit.prune(model, "auto", data, prediction_from=saved)
    warnings = result.to_json()["warnings"] if command == "gate" else result.warnings
    (said,) = [w for w in warnings if "the prediction overshoots" in w]
    (stated,) = [w for w in computed["warnings"] if "the prediction overshoots" in w]
    with library_call():
        # bounds' own words, the report's limit named (a pruning's: prune to it)
        assert _told(said, _going_by(stated, saved, command == "prune") + ("" if command == "prune" else FAILS))
        assert measured_advice() not in said and verify_advice() not in said and measured_here() not in said


# a gate whose rule on ρ_L passed over the overshoot names the way to fail on it; a pruning has none
FAILS = "; prunelimit.gate(..., fail_on_overshoot=True) fails the gate on it"
LIMIT = "<the loss limit measured>"  # where a pruning's advice names the ratio the report measured


def _told(said: str, expected: str) -> bool:
    """``said`` is ``expected``, the report's measured limit a ratio where it reads ``LIMIT``."""
    return re.fullmatch(re.escape(expected).replace(re.escape(LIMIT), r"(?:0\.\d+|1\.0|0)"), said) is not None


def _going_by(stated: str, report, pruned: bool = False) -> str:
    """A library caller's ``bounds`` warning as a reader of the ``verify`` document in ``report``
    states it: a gate, or a pruning (told to prune to the loss limit the report measured)."""
    from prunelimit.errors import library_call
    from prunelimit.theory.regime import measured_advice

    with library_call():
        instead = f"go by the actual limit {report} measured (prunelimit.gate(..., use='actual') gates on it)" \
            if not pruned else f"prune to the limit {report} measured (ratio={LIMIT})"
        return stated.replace(measured_advice(), instead)


def test_a_prediction_read_from_a_mixed_gates_report_is_told_in_the_readers_words(plain, computed, tmp_path,
                                                                                   no_curvature) -> None:
    """A gate with a rule on the measured limit names its rules in the warnings of the verify
    document its report holds ("go by rule 'real' on the measured limit; rule 'floor' reads the
    prediction"). A prune or another gate that read its prediction from that report passed
    the other gate's rule names on; they now say what they would of a verify report."""
    model, data = plain
    bounds, saved = tmp_path / "bounds.json", tmp_path / "gate.json"
    bounds.write_text(json.dumps(computed))
    mixed = [{"name": "floor", "min_ratio": 0.3}, {"name": "real", "min_ratio": 0.1, "use": "actual"}]
    saved.write_text(json.dumps(document("gate", prunelimit.gate(model, data, rules=mixed,
                                                                 prediction_from=bounds).to_json())))
    (stated,) = [w for w in computed["warnings"] if "the prediction overshoots" in w]
    for warnings, pruned in ((prunelimit.prune(model, "auto", data, prediction_from=saved).warnings, True),
                             (prunelimit.gate(model, data, min_ratio=0.3, prediction_from=saved).to_json()["warnings"],
                              False)):
        (said,) = [w for w in warnings if "the prediction overshoots" in w]
        # bounds' own words, the limit the gate's report measured named
        assert _told(said, _going_by(stated, saved, pruned) + ("" if pruned else FAILS))
    others = [{"name": "base", "min_ratio": 0.2}, {"name": "limit", "min_ratio": 0.1, "use": "actual"}]
    (said,) = [w for w in prunelimit.gate(model, data, rules=others, prediction_from=saved).to_json()["warnings"]
               if "the prediction overshoots" in w]
    assert "'real'" not in said and "go by rule 'limit' on the measured limit; rule 'base' reads the prediction" in said
