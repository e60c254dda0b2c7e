"""What every library function returns, as a notebook shows it and a script keeps it: a
``repr`` that reads at a glance (numbers, not tensors; no per-batch arrays; no copy of a
nested report's whole document) and a result that pickles, its ``to_json()`` unchanged."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import tempfile
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
