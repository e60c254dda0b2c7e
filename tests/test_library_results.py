"""What every library function returns, as a notebook shows it and a script keeps it: a
``repr`` that reads at a glance (numbers, not tensors; no per-batch arrays; no copy of a
nested report's whole document) and a result that pickles, its ``to_json()`` unchanged."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

import prunelimit

RESULTS = {
    "info": lambda m, d: prunelimit.info(m, d),
    "spectrum": lambda m, d: prunelimit.spectrum(m, d, method="exact"),
    "bounds": lambda m, d: prunelimit.bounds(m, d, method="exact"),
    "verify": lambda m, d: prunelimit.verify(m, d, method="exact"),
    "gate": lambda m, d: prunelimit.gate(m, d, min_ratio=0.1, method="exact"),
    "prune": lambda m, d: prunelimit.prune(m, 0.5),
    "prune auto": lambda m, d: prunelimit.prune(m, "auto", d, method="exact"),
    "nplh": lambda m, d: prunelimit.nplh(m, d),
    "train": lambda m, d: prunelimit.train(copy.deepcopy(m), d, epochs=1),
    "hyperflux": lambda m, d: prunelimit.hyperflux(copy.deepcopy(m), d, 0.5, pruning_epochs=3, regrowth_epochs=1,
                                                   gate_lr=0.05),
    "imp": lambda m, d: prunelimit.imp(copy.deepcopy(m), d, levels=1, epochs_per_level=1, epochs_dense=0),
    "export": lambda m, d: _exported(m),
}


def _exported(model):
    with tempfile.TemporaryDirectory() as folder:
        return prunelimit.export(prunelimit.prune(model, 0.5).apply(copy.deepcopy(model)),
                                 Path(folder) / "m.safetensors")


@pytest.fixture(scope="module")
def results():
    from prunelimit.data.spec import load_dataset
    from prunelimit.models.spec import build_model

    from tests.conftest import LIBRARY_SAMPLES, SPEC

    import torch
    torch.manual_seed(0)
    model = build_model(SPEC)
    data = load_dataset("digits:train", max_samples=LIBRARY_SAMPLES)
    small = (data.x, data.y)
    return {name: make(model, small) for name, make in RESULTS.items()}


@pytest.mark.parametrize("name", RESULTS)
def test_a_results_repr_holds_no_tensor_nor_per_batch_array(results, name):
    """``Pruning``'s repr printed every mask tensor (six lines a layer, hundreds for a real
    network); a spectrum's, the per-batch losses (one number a batch)."""
    text = repr(results[name])
    assert "tensor(" not in text and "batch_losses" not in text
    assert len(text) < 6000, len(text)


@pytest.mark.parametrize("name", ["verify", "gate"])
def test_a_reports_repr_does_not_repeat_the_bounds_behind_it(results, name):
    """``verify``'s and ``gate``'s reprs held the whole ``bounds`` result or document again,
    after the prediction they already show; it stays an attribute (``result.bounds``)."""
    result = results[name]
    assert "bounds=" not in repr(result) and result.bounds is not None


@pytest.mark.parametrize("name", RESULTS)
def test_a_result_pickles_with_its_json(results, name):
    result = results[name]
    assert pickle.loads(pickle.dumps(result)).to_json() == result.to_json()


def _same_shape(a, b) -> bool:
    """Two JSON documents of one structure: the same keys, recursively, lists of the same
    lengths, values of the same kinds; a null matches any value (the library's ``checkpoint``,
    ``model`` and ``data`` name no files)."""
    if a is None or b is None:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_shape(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same_shape, a, b))
    kinds = [type(v).__name__ if isinstance(v, (bool, str, dict, list)) else "number" for v in (a, b)]
    return kinds[0] == kinds[1]


@pytest.mark.parametrize("command", ["info", "spectrum", "bounds", "verify", "gate", "law nplh"])
def test_to_json_is_the_commands_json_document_without_its_schema(cli, model, train, tmp_path, command):
    """``document(command, result.to_json())`` has the keys, lists and kinds of values that
    ``prunelimit COMMAND --json`` prints for the same model and data."""
    import json

    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.report.jsonout import document

    from tests.conftest import LIBRARY_SAMPLES, SPEC

    path = tmp_path / "m.pt"
    save_checkpoint(path, SPEC, model.state_dict())
    curvature = [] if command in ("info", "law nplh") else ["--method", "exact", "--no-cache"]
    rule = ["--min-ratio", "0.1"] if command == "gate" else []
    result = cli(*command.split(), path, "--data", "digits:train", "--max-samples", LIBRARY_SAMPLES, *curvature, *rule,
                 "--json")
    assert result.exit_code == 0, result.stderr
    calls = {"info": lambda: prunelimit.info(model, train), "law nplh": lambda: prunelimit.nplh(model, train),
             "spectrum": lambda: prunelimit.spectrum(model, train, method="exact"),
             "bounds": lambda: prunelimit.bounds(model, train, method="exact"),
             "verify": lambda: prunelimit.verify(model, train, method="exact"),
             "gate": lambda: prunelimit.gate(model, train, min_ratio=0.1, method="exact")}
    body = calls[command]().to_json()
    name = command.split()[-1]
    assert "schema" not in body
    assert _same_shape(json.loads(json.dumps(document(name, body))), json.loads(result.stdout))


@pytest.mark.parametrize("name", RESULTS)
def test_a_result_equals_its_copy_and_differs_from_a_changed_one(results, name):
    """``==`` on a result compared its fields as tuples, and a field holding an array or
    tensor (a spectrum's per-batch losses, the quadrature nodes, ``Pruning``'s masks) raised
    ``ValueError: The truth value of an array … is ambiguous`` instead of answering."""
    result = results[name]
    same = pickle.loads(pickle.dumps(result))
    assert result == same and not result != same
    assert result != object()
    number = next(f.name for f in dataclasses.fields(result)
                  if type(getattr(result, f.name)) in (int, float) or dataclasses.is_dataclass(getattr(result, f.name)))
    value = getattr(result, number)
    changed = value + 1 if type(value) in (int, float) else None  # a nested result: gone
    assert result != dataclasses.replace(result, **{number: changed})


def _console_numbers(name: str, result) -> list[str]:
    """The key numbers of each result as the console writes them (percentages to two
    decimals, ρ* with its ± in points, counts with thousands separators)."""
    from prunelimit.report.console import fmt
    from prunelimit.report.rounding import estimate_text, percent

    def zeros(pruning) -> str:
        return f"zeros = {sum(layer.zeros for layer in pruning.layers):,} of {sum(layer.total for layer in pruning.layers):,}"

    return {
        "info": lambda r: [f"N = {r.params_prunable:,}", f"D = {r.params_hessian:,}"],
        "spectrum": lambda r: [f"λmax = {fmt(r.lambda_max)}", f"D = {r.params_hessian:,}", "method='exact'"],
        "bounds": lambda r: [f"ρ* = {estimate_text(r.ratio, r.uncertainty.plus_minus)}", f"ρ_L = {percent(r.lower)}",
                             f"ρ_U = {percent(r.upper)}", f"D = {r.spectrum.params_hessian:,}",
                             f"N = {r.params_prunable:,}", "method='exact'"],
        "verify": lambda r: [f"ρ* = {estimate_text(r.prediction.ratio, r.prediction.uncertainty.plus_minus)}",
                             percent(r.actual.loss_ratio)],
        "gate": lambda r: [f"passed={r.passed}", f"ρ* = {estimate_text(r.estimate.ratio, r.estimate.uncertainty.plus_minus)}"],
        "prune": lambda r: [f"achieved = {percent(r.achieved)}", zeros(r), "source='given'"],
        "prune auto": lambda r: [f"requested = {percent(r.requested)}", f"achieved = {percent(r.achieved)}", zeros(r),
                                 "source='auto (bounds)'"],
        "nplh": lambda r: [f"α0 = {r.alpha0:.4f}", f"R² = {r.r2:.4f}"],
        "train": lambda r: [f"epochs = {len(r.history)}", f"steps = {r.steps:,}"],
        "hyperflux": lambda r: [f"density = {percent(r.density)}", f"requested = {percent(r.requested_density)}"],
        "imp": lambda r: [f"{len(r.rows)} levels", f"density = {percent(r.rows[-1].density)}"],
        "export": lambda r: [f"{r.file_bytes:,} B", f"{len(r.tensors)} tensors"],
    }[name](result)


@pytest.mark.parametrize("name", RESULTS)
def test_a_results_repr_is_one_short_line_of_its_key_numbers_as_the_console_writes_them(results, name):
    """``result`` typed at a prompt printed the whole dataclass: 4,534 characters for a small
    ``bounds`` (every spectrum field, the prediction's per-run array, the warnings in full),
    with ρ* as ``0.7385791326699808``. It is one line of the numbers a reader looks for; the
    fields stay attributes (``==``, pickling: the tests above)."""
    result = results[name]
    text = repr(result)
    assert text.startswith(type(result).__name__ + "(") and text.endswith(")") and "\n" not in text
    assert len(text) < 250, text
    assert "array(" not in text and "tensor(" not in text and "warnings=(" not in text
    missing = [number for number in _console_numbers(name, result) if number not in text]
    assert not missing, (missing, text)


class _Tags(HTMLParser):
    """The elements a fragment opens and closes, in order: a tag closed out of turn or left
    open is badly formed HTML, which Jupyter would nest the notebook's next output in."""

    VOID = {"br", "img", "meta", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.misnested: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if self.open and self.open[-1] == tag:
            self.open.pop()
        else:
            self.misnested.append(tag)


@pytest.mark.parametrize("name", RESULTS)
def test_a_result_shows_in_jupyter_as_the_html_reports_summary(results, name):
    """Jupyter showed only the repr; ``_repr_html_`` gives the ``--report`` page's summary of the
    result (its table of headline numbers, warnings escaped, the per-layer, per-level or
    per-epoch tables): a well-formed fragment, without the page's head, style or JSON dump."""
    import html

    result = results[name]
    fragment = result._repr_html_()
    tags = _Tags()
    tags.feed(fragment)
    tags.close()
    assert not tags.open and not tags.misnested, (tags.open, tags.misnested)
    assert fragment.startswith("<div>") and "<html" not in fragment and "<style" not in fragment
    assert "<table>" in fragment and type(result).__name__ in fragment
    assert all(html.escape(str(warning)) in fragment for warning in result.to_json()["warnings"])


def test_the_html_summary_states_the_bounds_as_the_report_page_does(results):
    """The numbers are the report page's own (its Summary rows), not a second formatting."""
    from prunelimit.report.html import render_html
    from prunelimit.report.rounding import percent

    result = results["bounds"]
    row = f"<td>lower bound ρ_L</td><td class=num>{percent(result.lower)} removed · {percent(1 - result.lower)} kept</td>"
    assert row in result._repr_html_() and row in render_html("bounds", result.to_json(), {}, ["prunelimit", "bounds"])


@pytest.mark.parametrize("ratio", ["0.5", "auto"])
def test_a_prunings_json_is_the_commands_without_what_needs_files_or_evaluation(cli, model, train, tmp_path, ratio):
    """``Pruning.to_json()`` holds the keys of ``prune --json`` that stand without files or an
    evaluation (``ratio``, ``layers``, ``overshoot``, ``warnings``, ``spectrum``, ``timing``), each as the command writes it.
    For a given ratio its ``timing`` was ``null`` where the command writes zero curvature work."""
    import json

    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.report.jsonout import document

    from tests.conftest import LIBRARY_SAMPLES, SPEC

    path = tmp_path / "m.pt"
    save_checkpoint(path, SPEC, model.state_dict())
    curvature = ["--method", "exact", "--no-cache"] if ratio == "auto" else []
    result = cli("prune", path, "--ratio", ratio, "--data", "digits:train", "--max-samples", LIBRARY_SAMPLES,
                 *curvature, "-o", tmp_path / "p.pt", "--json")
    assert result.exit_code == 0, result.stderr
    command = json.loads(result.stdout)
    # a number reads no data (tests/test_library_prune_number_unread.py)
    pruning = prunelimit.prune(model, float(ratio)) if ratio != "auto" else prunelimit.prune(model, ratio, train, method="exact")
    body = json.loads(json.dumps(document("prune", pruning.to_json())))
    assert set(body) == {"schema", "ratio", "layers", "overshoot", "warnings", "spectrum", "timing"}
    command["timing"].pop("prune")  # the command's own evaluating, pruning and writing
    # a given ratio stands on no spectrum, nor on an overshoot check: null in both
    assert all(_same_shape(body[key], command[key])
               and (body[key] is not None or key in ("spectrum", "overshoot") and ratio != "auto")
               for key in body), (body, command)
    assert body["ratio"]["achieved"] == command["ratio"]["achieved"] and body["layers"] == command["layers"]
    if ratio == "auto":  # the same choice and stop (its reason names the option as each caller writes it)
        assert [body["spectrum"]["choice"]["solver"], body["spectrum"]["stopped_by"]] == \
            [command["spectrum"]["choice"]["solver"], command["spectrum"]["stopped_by"]]


def test_a_regression_runs_repr_states_its_loss_where_it_has_no_accuracy():
    """A Hyperflux run on a regression (``loss="mse"``) measures no accuracy: its repr read
    ``accuracy — → —``, which says nothing of what pruning cost; it states the loss."""
    from prunelimit.api.laws import HyperfluxReport
    from prunelimit.models.evaluate import Evaluation

    report = HyperfluxReport(0.3, 0.31, {}, Evaluation(0.1234, None, 100), Evaluation(0.25, None, 100), ())
    assert "loss 0.1234 → 0.25" in repr(report) and "—" not in repr(report)


def test_a_failed_gates_repr_says_which_rule_failed_and_why(model, train):
    """A failed gate's repr gave only ``passed=False``: it states the first failed rule's
    reason, as the console's ``FAIL`` line does."""
    report = prunelimit.gate(model, train, min_ratio=0.1, rules=[{"min_ratio": 0.999, "use": "predicted"}],
                             method="exact")
    failed = next(outcome for outcome in report.result.outcomes if not outcome.passed)
    assert not report.passed and f"FAIL {failed.rule.name}: {failed.reason}" in repr(report)
    assert "1 of 2 rules passed" in repr(report)


def test_the_prune_commands_report_shows_what_pruning_cost(model, train, tmp_path):
    """``prunelimit.api.prune``'s ``PruneReport`` evaluates before and after pruning, as the
    console's ``before``/``after`` lines state; its repr states that accuracy change."""
    from prunelimit import api
    from prunelimit.report.rounding import percent

    report = api.prune(prunelimit.inputs_from(model, train), 0.5, tmp_path / "p.pt")
    text = repr(report)
    assert text.startswith("PruneReport(") and len(text) < 250, text
    assert f"accuracy {percent(report.before.accuracy)} → {percent(report.after.accuracy)}" in text
    assert f"achieved = {percent(report.achieved)}" in text


def test_a_gate_shows_in_jupyter_with_its_verdict_and_each_rule(results):
    """A gate's summary showed its curvature time and warnings but not whether it passed nor
    its rules (no report page had a gate's document): it states both, as the console does."""
    import html

    report = results["gate"]
    fragment = report._repr_html_()
    assert "<td>gate passed</td><td class=num>yes</td>" in fragment
    assert "<h2>Rules</h2>" in fragment
    assert all(html.escape(outcome.reason) in fragment and html.escape(outcome.rule.name) in fragment
               for outcome in report.result.outcomes)


def test_the_reprs_library_md_quotes_are_what_its_examples_model_gives():
    """docs/library.md quoted ``BoundsReport(ρ* = 73.86 % …, 2 warnings)`` from no model it
    names; it now quotes its examples' model (seed 0, 64-16-10, all of digits:train, exact:
    float64, so the digits are the same on every run), and this keeps the quote true."""
    import re

    import torch

    from prunelimit.data.spec import load_dataset

    text = " ".join((Path(__file__).resolve().parents[1] / "docs" / "library.md").read_text(encoding="utf-8").split())
    quoted = {match[2]: match[1] for match in re.finditer(r"`((BoundsReport|Pruning)\([^`]*)`", text)}
    train = load_dataset("digits:train")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    bounds = repr(prunelimit.bounds(model, (train.x, train.y), method="exact"))
    pruning = repr(prunelimit.prune(model, 0.5))
    assert quoted["BoundsReport"] == bounds
    assert pruning.startswith(quoted["Pruning"].removesuffix("…)"))
