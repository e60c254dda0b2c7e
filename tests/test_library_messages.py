"""A library call's errors and the reasons in its results name keyword arguments, never the
command line's flags (``--allow-incompatible-baseline``, ``--iterations``, ``--method exact``):
the messages reachable from ``prunelimit.gate``'s baselines and rules and from the curvature's
memory plan, each read as a library caller and as the command line reads it."""

from __future__ import annotations

import copy
import json

import pytest
import torch

import prunelimit
from prunelimit.errors import UsageError, library_call
from prunelimit.report.jsonout import document


def test_an_incompatible_baseline_is_refused_naming_allow_incompatible(model, train, tmp_path):
    stored = tmp_path / "baseline.json"  # over other data: another problem, not an older model
    other = (train[0][:200], train[1][:200])
    stored.write_text(json.dumps(document("bounds", prunelimit.bounds(model, other, method="exact").to_json())))
    with pytest.raises(UsageError, match=r"or pass allow_incompatible=True$") as refused:
        prunelimit.gate(model, train, baseline=stored, max_drop=0.1, method="exact")
    assert "--" not in str(refused.value)
    kept = prunelimit.gate(model, train, baseline=stored, max_drop=1.0, method="exact", allow_incompatible=True)
    assert any("compared anyway (allow_incompatible=True)" in w for w in kept.warnings)
    assert not any("--" in w for w in kept.warnings)


def test_a_fixed_plan_past_the_basis_memory_is_refused_naming_keywords(model, train):
    with pytest.raises(UsageError, match=r"use fewer iterations, a narrower basis_dtype, a larger basis_memory_mb, or "
                                         r"adaptive SLQ \(no iterations or runs\)") as refused:
        prunelimit.bounds(model, train, method="slq", iterations=200, runs=2, basis_memory_mb=0.01)
    assert "--" not in str(refused.value)


def _incomplete(kind: str) -> dict:
    """A bounds document whose stated ± leaves out a known error of ``kind``."""
    prediction = {"uncertainty": {"plus_minus": 0.01, "steps_kind": "none" if kind == "steps" else "bracket"},
                  "ratio": 0.5, "continuous_ratio": 0.4 if kind == "grid" else 0.5, "reference_density": {}}
    samples = {"used": 10, "total": 100} if kind == "samples" else {"used": 100, "total": 100}
    return {"prediction": prediction, "spectrum": {"hessian_samples": samples}}


@pytest.mark.parametrize("kind, fix", [("samples", "pass hessian_samples='all'"),
                                       ("grid", "use method='slq' or method='exact'")])
def test_a_rules_reason_for_an_incomplete_plus_minus_names_keywords(kind, fix):
    from prunelimit.gate_rules import margin

    with library_call():
        _, _, said = margin(_incomplete(kind))
    assert said == fix
    assert "--" in margin(_incomplete(kind))[2]  # the command line's words outside a library call


def test_the_baselines_sample_advice_names_keywords():
    from prunelimit import baseline

    with library_call():
        texts = [baseline._same_advice(), baseline._auto_advice()]
    assert all("--" not in text and "hessian_samples" in text for text in texts), texts


@pytest.mark.parametrize("options", [dict(method="exact"), dict(method="paper"), dict(method="slq"),
                                     dict(iterations=20, runs=2), dict(max_hvps=500), dict(time_budget=60.0)],
                         ids=lambda o: ",".join(o))
def test_the_solvers_reason_names_keywords(model, train, options):
    """``result.spectrum.choice.reason`` (and the JSON's ``choice``) said ``(--method exact)``,
    ``(--iterations/--runs given)``, ``--max-hvps 500`` to a library caller."""
    reason = prunelimit.bounds(model, train, **options).spectrum.choice.reason
    assert "--" not in reason, reason
    assert next(iter(options)) in reason or "exact spectrum" in reason


def test_a_max_drop_without_a_baseline_names_the_keyword_as_the_call_writes_it(model, train):
    """It said ``max_drop needs baseline REPORT.json``, the flag's form without its dashes."""
    with pytest.raises(UsageError, match=r"max_drop needs baseline='report\.json'$"):
        prunelimit.gate(model, train, max_drop=0.1)


@pytest.mark.parametrize("rules", [
    "- min_ratio: 0.1",  # a YAML text, iterated as characters
    {"min_ratio": 0.1},  # one rule, iterated as its keys
    0.1,  # not iterable: a TypeError from list()
])
def test_rules_that_are_not_a_list_of_mappings_are_refused_naming_the_argument(model, train, rules):
    """They were refused as 'gate rule 1: expected a mapping with keys …': the first
    character or key read as a rule, which the caller never wrote."""
    with pytest.raises(UsageError, match=rf"^rules must be a list of rule mappings, .*got {type(rules).__name__}; "
                                         rf"e\.g\. rules=\[\{{'min_ratio': 0\.1"):
        prunelimit.gate(model, train, rules=rules)
    assert prunelimit.gate(model, train, rules=[{"min_ratio": 0.0, "use": "actual"}]).passed


@pytest.mark.parametrize(("call", "name", "meant"), [
    (lambda m, d: prunelimit.bounds(m, d, loss_fn=torch.nn.CrossEntropyLoss()), "loss_fn", "loss"),
    (lambda m, d: prunelimit.spectrum(m, d, criterion=torch.nn.CrossEntropyLoss()), "criterion", "loss"),
    (lambda m, d: prunelimit.verify(m, d, val_loader=[d]), "val_loader", "eval_data"),
    (lambda m, d: prunelimit.train(m, d, loss_fn="mse"), "loss_fn", "loss"),
    (lambda m, d: prunelimit.nplh(m, d, criterion="ce"), "criterion", "loss"),
])
def test_another_librarys_name_for_an_argument_is_refused_naming_the_argument(model, train, call, name, meant):
    """``bounds(model, data, loss_fn=nn.CrossEntropyLoss())``, as a training loop names it, was
    refused as an unknown curvature option, listing sixteen that do not include ``loss``."""
    with pytest.raises(UsageError, match=rf"takes no argument '{name}'; give it as {meant}=") as refused:
        call(model, train)
    assert "curvature options are" not in str(refused.value)


def _with_an_unused_layer(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` beside a layer forward never runs: every call with data warns of it."""
    class Unused(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net, self.spare = copy.deepcopy(model), torch.nn.Linear(3, 3)

        def forward(self, x):
            return self.net(x)
    return Unused()


def _zero_model(model: torch.nn.Module) -> torch.nn.Module:
    zeroed = copy.deepcopy(model)
    with torch.no_grad():
        for layer in zeroed:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.zero_()
    return zeroed


def _error_fit():
    from prunelimit.laws.errorlaw import ErrorPoints

    density = [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125]
    return prunelimit.fit_error_law(ErrorPoints(density, [0.05, 0.05, 0.06, 0.1, 0.2, 0.4]))


WARNING_CALLS = {
    "info": lambda m, d: prunelimit.info(_with_an_unused_layer(m), d),
    "bounds": lambda m, d: prunelimit.bounds(_with_an_unused_layer(m), d, method="exact"),
    "train": lambda m, d: prunelimit.train(_with_an_unused_layer(m), d, epochs=1),
    "drop_last": lambda m, d: prunelimit.info(m, torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*d),
                                                                               batch_size=64, drop_last=True)),
    "zero start": lambda m, d: prunelimit.train(_zero_model(m), d, epochs=1),
    "other set": lambda m, d: prunelimit.info(prunelimit.prune(m, 0.5).apply(copy.deepcopy(m)), exclude=("2",)),
    "extrapolated": lambda m, d: prunelimit.predict_error(_error_fit(), 0.001, extrapolate=True),
}


@pytest.mark.parametrize("name", WARNING_CALLS)
def test_a_calls_warnings_point_at_the_callers_line(model, train, name):
    """A library warning was shown at a line of prunelimit's own (``contextlib.py:137: UserWarning:
    … return next(self.gen)``, ``library.py:380``): a notebook saw our code, not its cell, and
    Python's once-per-line filter counted every call's warnings as one line's. They point at the
    line that called prunelimit, as warnings of a library should."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        WARNING_CALLS[name](model, train)
    assert caught
    assert all(w.filename == __file__ for w in caught), [(w.filename, w.lineno, str(w.message)[:60]) for w in caught]
