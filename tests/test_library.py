"""The library on in-memory objects: the same numbers as the file-based path, data and loss
forms, refusals, masks usable with torch.nn.utils.prune, and docs/library.md's examples."""

from __future__ import annotations

import collections
import contextlib
import copy
import doctest
import functools
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn.utils import prune as torch_prune

import prunelimit
import prunelimit.models.params
from prunelimit import api
from prunelimit.errors import InputError, OptionError, UsageError
from prunelimit.inputs import load_inputs
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.pruning.magnitude import prune_model

from tests.conftest import LIBRARY_SAMPLES as SAMPLES, SPEC
DOCS = Path(__file__).resolve().parents[1] / "docs" / "library.md"


def test_bounds_on_objects_equals_the_file_path_bit_for_bit(model, train, tmp_path):
    """Same weights, same batches, same loss: the two entry points run the same arithmetic,
    so ρ*, the bounds and the spectrum agree exactly (no tolerance)."""
    path = tmp_path / "m.pt"
    save_checkpoint(path, SPEC, model.state_dict())
    from_file = api.bounds(load_inputs(path, data="digits:train", max_samples=SAMPLES))
    from_objects = prunelimit.bounds(model, train)
    assert from_objects.ratio == from_file.ratio
    assert (from_objects.lower, from_objects.upper) == (from_file.lower, from_file.upper)
    assert from_objects.spectrum.trace == from_file.spectrum.trace


def test_criterion_loader_and_list_give_the_tensor_pairs_numbers(model, train):
    """``nn.CrossEntropyLoss()`` is ``F.cross_entropy``; a non-shuffling loader and a list
    of its batches are the pair's batches: every form gives the identical ρ*."""
    x, y = train
    reference = prunelimit.bounds(model, train).ratio
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=128)
    assert prunelimit.bounds(model, train, loss=torch.nn.CrossEntropyLoss()).ratio == reference
    assert prunelimit.bounds(model, loader).ratio == reference
    assert prunelimit.bounds(model, [(x[i:i + 128], y[i:i + 128]) for i in range(0, len(x), 128)]).ratio == reference


def test_shuffling_loader_is_refused(model, train):
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*train), batch_size=64, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    with pytest.raises(UsageError, match="different batches on a second pass"):
        prunelimit.bounds(model, loader)


def test_a_loader_dropping_its_last_batch_says_how_many_samples_it_left_out():
    """drop_last=True on 23 samples in batches of 7 reads 21: the loss, ε and curvature
    are of those, which a caller who set drop_last for training may not expect."""
    from prunelimit.library import as_batches

    dataset = torch.utils.data.TensorDataset(torch.zeros(23, 4), torch.zeros(23, dtype=torch.long))
    with pytest.warns(UserWarning, match=r"^data: the DataLoader drops its short last batch \(drop_last=True\): "
                                         r"2 of its 23 samples are left out"):
        batches = as_batches(torch.utils.data.DataLoader(dataset, batch_size=7, drop_last=True))
    assert sum(len(y) for _, y in batches) == 21
    with warnings.catch_warnings():  # nothing dropped, nothing said
        warnings.simplefilter("error")
        as_batches(torch.utils.data.DataLoader(dataset, batch_size=7))
        as_batches(torch.utils.data.DataLoader(dataset, batch_size=23, drop_last=True))


class _Stream(torch.utils.data.IterableDataset):
    """23 samples streamed, with no length: a loader over it cannot tell how many it drops."""

    def __iter__(self):
        return iter(zip(torch.zeros(23, 4), torch.zeros(23, dtype=torch.long)))


def test_a_loader_dropping_the_last_batch_of_a_stream_says_how_many_samples_it_left_out():
    """Over an ``IterableDataset`` (no ``len``) ``drop_last=True`` left 2 of 23 samples out in
    silence; the stream is counted, as the loader's batches are read, and the warning says so."""
    from prunelimit.library import as_batches

    with pytest.warns(UserWarning, match=r"^data: the DataLoader drops its short last batch \(drop_last=True\): "
                                         r"2 of its 23 samples are left out"):
        batches = as_batches(torch.utils.data.DataLoader(_Stream(), batch_size=7, drop_last=True))
    assert sum(len(y) for _, y in batches) == 21
    with warnings.catch_warnings():  # nothing dropped, nothing said
        warnings.simplefilter("error")
        as_batches(torch.utils.data.DataLoader(_Stream(), batch_size=23, drop_last=True))


def test_a_one_pass_iterator_is_read_once(model, train):
    """A generator has no second pass to compare: its batches, read once, are the sample
    (it used to be refused as "different batches on a second pass")."""
    x, y = train
    batches = [(x[i:i + 128], y[i:i + 128]) for i in range(0, len(x), 128)]
    reference = prunelimit.bounds(model, batches).ratio
    assert prunelimit.bounds(model, (b for b in batches)).ratio == reference
    assert prunelimit.bounds(model, iter(batches)).ratio == reference

@pytest.mark.parametrize("data, message", [
    (torch.zeros(10, 64), r"^data is one Tensor of shape \(10, 64\), not an \(x, y\) pair of tensors; give the labels"),
    ([torch.zeros(4, 64)], "not an \\(x, y\\) pair"),
    # a dict batch: the hint named its first key only ("b['image'], b[...]"), now the keys it has
    ([{"image": torch.zeros(4, 64), "label": torch.zeros(4, dtype=torch.long)}],
     r"^data batch 0 is a dict \(keys 'image', 'label'\), not an \(x, y\) pair of tensors; give \(x, y\) pairs, "
     r"e.g. \[\(b\['image'\], b\['label'\]\) for b in loader\]$"),
    ([{"input_ids": torch.zeros(4, 8), "attention_mask": torch.ones(4, 8), "labels": torch.zeros(4, dtype=torch.long)}],
     r"^data batch 0 is a dict \(keys 'input_ids', 'attention_mask', 'labels'\), .* e.g. \[\(b\['input_ids'\], "
     r"b\['labels'\]\) for b in loader\]$"),
    # any mapping, as a Hugging Face tokenizer's BatchEncoding (a UserDict) is: named as a dict is
    ([collections.UserDict(x=torch.zeros(4, 64), y=torch.zeros(4, dtype=torch.long))],
     r"^data batch 0 is a UserDict \(keys 'x', 'y'\), .* e.g. \[\(b\['x'\], b\['y'\]\) for b in loader\]$"),
    ([{"x": torch.zeros(4, 64)}], r"^data batch 0 is a dict \(key 'x'\), .*; give \(x, y\) pairs, e.g. "
                                  r"\[\(b\['x'\], y\) for b in loader\]: the batch holds no second tensor to be y$"),
    ((torch.zeros(10, 64), torch.zeros(9, dtype=torch.long)), "10 samples and y 9"),
    ([], "no batches"),
    # a generator read by an earlier call, a loader whose one batch drop_last drops: the fix is theirs
    ((b for b in []), r"^data yielded no batches: a one-pass iterator \(a generator, iter\(loader\)\) gives its batches "
                      r"once, so a second read gives none; pass a list of batches or the DataLoader itself$"),
    (torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(10, 64), torch.zeros(10, dtype=torch.long)),
                                 batch_size=64, drop_last=True),
     r"^data yielded no batches: the DataLoader drops a short last batch \(drop_last=True\), and its 10 samples fill "
     r"no batch of 64; use drop_last=False or a smaller batch_size in the DataLoader$"),
    ("digits:train", r"^data is the spec or path 'digits:train'; the library takes tensors or batches: load a data "
                     r"spec with prunelimit.data.spec.load_dataset\(SPEC\)"),
    (None, r"^no analysis data for the model: pass data \(an \(x, y\) tensor pair or a DataLoader\)$"),
    ((torch.zeros(10, 64).numpy(), torch.zeros(10, dtype=torch.long).numpy()),
     "^data is a pair of ndarrays, not tensors; give \\(torch.from_numpy\\(x\\).float\\(\\)"),
    # integer x are token ids: made floats, an nn.Embedding refuses them
    ((torch.zeros(10, 8, dtype=torch.int16).numpy(), torch.zeros(10, dtype=torch.long).numpy()),
     r"^data is a pair of ndarrays, not tensors; give \(torch.from_numpy\(x\), torch.from_numpy\(y\)\)$"),
    (torch.utils.data.TensorDataset(torch.zeros(10, 64), torch.zeros(10, dtype=torch.long)),
     "got TensorDataset; wrap it in DataLoader\\(dataset, batch_size=..., shuffle=False\\)$"),
    (torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(10, 64), torch.zeros(10, dtype=torch.long)),
                                 batch_size=None),
     "^data batch 0 is a single sample \\(x of shape \\(64,\\), y of shape \\(\\)\\); give batches"),
    # a malformed pair is named as one, with what is wrong and the forms taken (it used to be
    # read as a list of batches: "data batch 0 is a Tensor/str, not an (x, y) pair")
    ((torch.zeros(10, 64), [1, 2]), r"^data is a tuple \(Tensor of shape \(10, 64\), list\), not an \(x, y\) pair of "
                                    r"tensors: y is of type list; make it a tensor, one row per sample; give an \(x, y\) "
                                    r"pair of tensors, or an iterable of \(x, y\) batches"),
    ((torch.zeros(10, 64), 3), r"^data is a tuple \(Tensor of shape \(10, 64\), int\), .*: y is of type int"),
    ((torch.zeros(10, 64),) + (torch.zeros(10, dtype=torch.long),) * 2,
     r"^data is a tuple \(Tensor of shape \(10, 64\), Tensor of shape \(10,\), Tensor of shape \(10,\)\), not an "
     r"\(x, y\) pair of tensors: it holds 3 items; give an \(x, y\) pair"),
    ({"x": torch.zeros(10, 64), "y": torch.zeros(10, dtype=torch.long)},
     r"^data is a dict of 2 entries \(keys 'x', 'y'\), not an \(x, y\) pair; give an \(x, y\) pair of tensors, or an iterable of \(x, "
     r"y\) batches \(a list of pairs, a DataLoader\), e.g. \(data\['x'\], data\['y'\]\)$"),
    ((torch.zeros(10, 64), torch.tensor(3)), r"^data is a tuple .*: a 0-d tensor has no sample dimension"),
    ([(torch.zeros(10, 64), [1] * 10)], r"^data batch 0 is a tuple \(Tensor of shape \(10, 64\), list\), not an \(x, "
                                       r"y\) pair of tensors: y is of type list; make it a tensor, one row per sample; "
                                       r"give an \(x, y\) pair"),
    # a list of (x, label) samples, as a Dataset's items come: said only "not an (x, y) pair"
    ([(torch.zeros(64), 1)] * 10, r"^data batch 0 is a tuple \(Tensor of shape \(64,\), int\), not an \(x, y\) pair "
                                  r"of tensors: y is of type int; .*; data holds samples, not batches: give them as one "
                                  r"pair, \(torch.stack\(\[x for x, _ in data\]\), torch.tensor\(\[y for _, y in data\]\)\)$"),
    # the same with 0-d label tensors (a TensorDataset's items): the fix named a DataLoader's batch_size
    ([(torch.zeros(64), torch.tensor(1))] * 10, r"^data batch 0 is a single sample \(x of shape \(64,\), y of shape "
                                                r"\(\)\); data holds samples, not batches: give them as one pair, "
                                                r"\(torch.stack\(\[x for x, _ in data\]\), torch.stack\(\[y for _, y in data\]\)\)$"),
    # the inputs of a model of several as x: "make it a tensor", with no way to call such a model
    (((torch.zeros(10, 40), torch.zeros(10, 24)), torch.zeros(10, dtype=torch.long)),
     r"^data is a tuple \(tuple, Tensor of shape \(10,\)\), not an \(x, y\) pair of tensors: x is a tuple of 2 "
     r"tensors, the inputs of a model whose forward takes several; every call runs model\(x\) on one tensor: join "
     r"them, x = torch.cat\(\[x1, x2\], 1\), and give a module whose forward takes that x and calls the model "
     r"\(return model\(\*x.split\(\[40, 24\], 1\)\)\); give an \(x, y\) pair"),
    ([([torch.zeros(5, 4, 4), torch.zeros(5, 3)], torch.zeros(5, dtype=torch.long))],
     r"^data batch 0 is a tuple \(list, Tensor of shape \(5,\)\), not an \(x, y\) pair of tensors: x is a list of 2 "
     r"tensors, .*x = torch.cat\(\[t.reshape\(len\(t\), -1\) for t in inputs\], 1\), .*\(split x and give each part "
     r"its shape and dtype back\)"),
    # tensors without values: torch's NotImplementedError 'Cannot copy out of meta tensor' came out
    ((torch.zeros(10, 64), torch.zeros(10, dtype=torch.long, device="meta")),
     r"^data: its tensors are on the meta device \(shapes without values\); give tensors that hold the data"),
    ([(torch.zeros(10, 64, device="meta"), torch.zeros(10, dtype=torch.long))],
     r"^data batch 0: its tensors are on the meta device"),
    # a batch of three (ids, attention mask, labels) was read as x = ids, y = the mask, in
    # silence, where the same three as a pair are refused
    (torch.utils.data.DataLoader(torch.utils.data.TensorDataset(
        torch.zeros(10, 64), torch.ones(10, 64, dtype=torch.long), torch.zeros(10, dtype=torch.long)), batch_size=5),
     r"^data batch 0 is a list \(Tensor of shape \(5, 64\), Tensor of shape \(5, 64\), Tensor of shape \(5,\)\), "
     r"not an \(x, y\) pair of tensors: it holds 3 items; give an \(x, y\) pair"),
])
def test_malformed_data_is_a_usage_error(model, data, message):
    with pytest.raises(UsageError, match=message):
        prunelimit.bounds(model, data)


def test_options_are_validated_by_the_library(model, train):
    with pytest.raises(UsageError, match=r"^unknown option 'tolerence'; did you mean 'tolerance'\?$"):
        prunelimit.bounds(model, train, tolerence=0.1)
    with pytest.raises(OptionError, match="tolerance"):
        prunelimit.bounds(model, train, tolerance=-1.0)
    with pytest.raises(UsageError, match="callable criterion"):
        prunelimit.bounds(model, train, loss=3)
    with pytest.raises(OptionError, match="batch_size must be an integer, got 2.5"):
        prunelimit.bounds(model, train, batch_size=2.5)
    with pytest.raises(OptionError, match="scope='bogus': use global, layer"):
        prunelimit.bounds(model, train, batch_size=1_000_000, scope="bogus")  # one batch: scope is checked first


def test_a_one_dimensional_x_is_told_to_be_a_column():
    """One value a sample (a regression on a scalar) given as a 1-D ``x``: a ``Linear(1, …)``
    read each batch as one sample of 128 features and the refusal said only "mat1 and mat2
    shapes cannot be multiplied (1x128 and 1x4)); check model and data". The column it names
    is taken."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    x = torch.linspace(-1, 1, 64)
    y = torch.sin(3 * x)
    with pytest.raises(InputError, match=r"^the model fails on data \(RuntimeError: .*\); check model and data; x is "
                                         r"1-D, one value a sample: give it as a column, x\.unsqueeze\(1\)$"):
        prunelimit.info(model, (x, y), loss="mse")
    assert prunelimit.info(model, (x.unsqueeze(1), y), loss="mse").loss > 0


def test_a_criterion_class_is_told_to_give_an_instance(model, train):
    """``loss=nn.CrossEntropyLoss`` (the class, its parentheses forgotten) was called as
    ``loss(output, target)``, which builds a criterion with those as its settings: "the loss
    failed on data (RuntimeError: Boolean value of Tensor with more than one value is
    ambiguous)". The instance the message names is taken, and computes what "ce" does."""
    with pytest.raises(UsageError, match=r"^loss is the class CrossEntropyLoss, not a criterion; give an instance, "
                                         r"loss=CrossEntropyLoss\(\)$"):
        prunelimit.bounds(model, train, loss=torch.nn.CrossEntropyLoss)
    assert prunelimit.bounds(model, train, loss=torch.nn.CrossEntropyLoss(), method="exact").ratio == \
        prunelimit.bounds(model, train, method="exact").ratio


@pytest.mark.parametrize("name", ["bounds", "verify", "gate", "prune"])
def test_one_batch_given_is_refused_with_a_fix_for_batches(model, train, name):
    """``batch_size`` cuts an (x, y) pair, not batches given: the refusal said to use a
    smaller one, which changes nothing for a one-batch loader."""
    calls = {"bounds": prunelimit.bounds, "verify": prunelimit.verify,
             "gate": lambda m, d, **k: prunelimit.gate(m, d, min_ratio=0.1, **k),
             "prune": lambda m, d, **k: prunelimit.prune(m, "auto", d, **k)}
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*train), batch_size=len(train[0]))
    with pytest.raises(OptionError, match=r"^epsilon from per-batch losses needs at least 2 analysis batches, got 1 "
                                          r"\(the data holds 300 samples\); data is given in batches, which batch_size "
                                          r"does not cut: give 2 or more \(a DataLoader's batch_size\), or give "
                                          r"epsilon explicitly$"):
        calls[name](model, loader)
    with pytest.raises(OptionError, match=r"got 1 \(the data holds 300 samples\); use a smaller batch_size or give"):
        calls[name](model, train, batch_size=len(train[0]))  # a pair: batch_size cuts it


def test_prune_masks_match_in_place_pruning_and_leave_the_model_alone(model):
    before = copy.deepcopy(model.state_dict())
    pruning = prunelimit.prune(model, 0.7)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # untouched
    reference = copy.deepcopy(model)
    expected = prune_model(reference, 0.7)
    assert pruning.achieved == expected.achieved
    assert pruning.masks.keys() == expected.masks.keys()
    assert all(torch.equal(pruning.masks[k], expected.masks[k]) for k in expected.masks)
    pruning.apply(model)  # torch.nn.utils.prune: weight = weight_orig * weight_mask
    for name, mask in pruning.masks.items():
        module_name, _, attribute = name.rpartition(".")
        module = model.get_submodule(module_name)
        assert torch.equal(getattr(module, f"{attribute}_mask"), mask.to(torch.float32))
        assert torch.equal(getattr(module, attribute), reference.get_parameter(name))


def test_prune_auto_is_the_predicted_limit(model, train):
    predicted = prunelimit.bounds(model, train)
    pruning = prunelimit.prune(model, "auto", train)
    assert pruning.requested == predicted.ratio
    with pytest.raises(UsageError, match="no analysis data"):
        prunelimit.prune(model, "auto")


def test_prune_auto_carries_the_spectrum_behind_the_ratio_and_its_timing(model, train):
    """``prune --json`` states the spectrum's timing (hvps, cached) while ``Pruning`` held no
    way to tell what the prediction cost or whether its spectrum came from the cache."""
    pruning = prunelimit.prune(model, "lower", train, method="slq", iterations=8, runs=2)
    s = pruning.spectrum
    assert s is not None and s.cached is False and s.hvps > 0
    assert pruning.to_json()["timing"] == s.timing_json() and pruning.to_json()["timing"]["cached"] is False
    given = prunelimit.prune(model, 0.5)
    # no curvature work, written as ``prune --ratio 0.5 --json`` writes it (it was ``None``)
    assert given.spectrum is None and given.to_json()["timing"] == {"seconds": 0.0, "stages": {}, "hvps": 0,
                                                                      "hvp_passes": 0.0, "cached": False}


def test_verify_on_objects_restores_the_weights(model, train):
    before = copy.deepcopy(model.state_dict())
    report = prunelimit.verify(model, train)
    assert report.delta == pytest.approx(report.prediction.ratio - report.actual.loss_ratio, abs=1e-15)
    assert report.bounds is not None and report.bounds.ratio == report.prediction.ratio
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())



@pytest.mark.parametrize("call", [
    lambda m, d: prunelimit.bounds(m, d, method="exact"),
    lambda m, d: prunelimit.spectrum(m, d, method="exact"),
    lambda m, d: prunelimit.verify(m, d, method="exact"),
    lambda m, d: prunelimit.gate(m, d, min_ratio=0.0, method="exact"),
    lambda m, d: prunelimit.prune(m, "auto", d, method="exact"),
    lambda m, d: prunelimit.nplh(m, d, metric="magnitude", mode="static"),
])
def test_every_module_gets_its_training_flag_back(train, call):
    """A model in the middle of training (dropout and batch norm on, one part frozen in eval)
    comes back in the same modes, with its weights, buffers and requires_grad unchanged."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 12), torch.nn.BatchNorm1d(12), torch.nn.ReLU(),
                                torch.nn.Dropout(0.5), torch.nn.Linear(12, 10)).train()
    model[1].eval()
    model[0].weight.requires_grad_(False)
    modes = [m.training for m in model.modules()]
    state = copy.deepcopy(model.state_dict())
    call(model, train)
    assert [m.training for m in model.modules()] == modes
    assert [p.requires_grad for p in model.parameters()] == [False, True, True, True, True, True]
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("call", [
    lambda m, d: prunelimit.bounds(m, d),
    lambda m, d: prunelimit.bounds(m, d, method="slq", per_layer=True),
    lambda m, d: prunelimit.spectrum(m, d),
    lambda m, d: prunelimit.verify(m, d),
    lambda m, d: prunelimit.gate(m, d, min_ratio=0.0, use="actual"),
    lambda m, d: prunelimit.prune(m, 0.5),
    lambda m, d: prunelimit.nplh(m, d),
])
def test_to_json_is_the_json_document(model, train, call):
    """``result.to_json()`` is what ``--json`` prints: plain JSON (numpy arrays became lists);
    every result the library returns has it, under that one name."""
    import json

    from prunelimit.report.jsonout import document

    body = call(model, train).to_json()
    assert json.loads(json.dumps(body, allow_nan=False)) == body
    assert document("bounds", body) == {"schema": "prunelimit.bounds/1", **body}

def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("index", range(len(_python_blocks(DOCS.read_text(encoding="utf-8")))))
def test_docs_library_examples_run(index, capsys):
    code = _python_blocks(DOCS.read_text(encoding="utf-8"))[index]
    exec(compile(code, f"docs/library.md block {index}", "exec"), {})
    assert capsys.readouterr().out  # every example prints its result


def test_import_prunelimit_loads_no_torch_until_a_name_is_used():
    """``python -m prunelimit`` must reach its Ctrl-C handling before torch imports (exit 130, no traceback)."""
    import subprocess
    import sys

    code = "import sys, prunelimit; print('torch' in sys.modules); prunelimit.bounds; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]


def test_a_subpackage_is_there_after_import_prunelimit_alone():
    """``import prunelimit`` then ``prunelimit.api.BoundsReport`` (the types docs/library.md
    names so) raised AttributeError until a call had imported the subpackage; a name that is
    neither a function nor a subpackage still does, and nothing loads torch before it is used."""
    import subprocess
    import sys

    code = ("import sys, prunelimit; print('torch' in sys.modules); print(prunelimit.api.BoundsReport.__name__); "
            "print(prunelimit.report.jsonout.document.__name__)\n"
            "try:\n    prunelimit.nothing\nexcept AttributeError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["False", "BoundsReport", "document", "module 'prunelimit' has no attribute 'nothing'"]


def test_bounds_per_layer_on_objects_equals_the_file_path(model, train, tmp_path):
    """The per-layer breakdown is the CLI's: same blocks, same traces (exact spectrum: no sampling)."""
    path = tmp_path / "m.pt"
    save_checkpoint(path, SPEC, model.state_dict())
    from_file = api.bounds(load_inputs(path, data="digits:train", max_samples=SAMPLES), per_layer=True)
    from_objects = prunelimit.bounds(model, train, per_layer=True)
    assert [(l.name, l.trace) for l in from_objects.layers.layers] == \
        [(l.name, l.trace) for l in from_file.layers.layers]
    assert prunelimit.bounds(model, train).layers is None


def test_spectrum_per_layer_on_objects_equals_the_file_path(model, train, tmp_path):
    """``spectrum --per-layer`` has its library keyword too: the same blocks and traces."""
    path = tmp_path / "m.pt"
    save_checkpoint(path, SPEC, model.state_dict())
    inputs = load_inputs(path, data="digits:train", max_samples=SAMPLES)
    options = api.CurvatureOptions()
    from_file = api.spectrum_layers(inputs, options, api.spectrum(inputs, options))
    from_objects = prunelimit.spectrum(model, train, per_layer=True)
    assert [(l.name, l.trace, l.share_of_width) for l in from_objects.layers.layers] == \
        [(l.name, l.trace, l.share_of_width) for l in from_file.layers.layers]
    assert prunelimit.spectrum(model, train).layers is None


def test_the_library_refuses_what_the_command_line_refuses(model, train):
    """The checks are the command line's own (``api.check_plan``, ``check_verify_options``,
    ``check_compatible``): the message names the library's argument, the CLI its flag; an
    argument with its value as the caller writes it (``method='exact'``, ``use method='slq'``)."""
    with pytest.raises(OptionError, match="^iterations has no effect: method='exact' computes .*; drop it, or use "
                       "method='slq'$") as caught:
        prunelimit.bounds(model, train, method="exact", iterations=10)
    assert caught.value.renamed(lambda name: "--" + name.replace("_", "-")).startswith(
        "--iterations has no effect: method='exact' computes")
    with pytest.raises(OptionError, match="^max_hvps has no effect: method='exact'"):
        prunelimit.bounds(model, train, method="exact", max_hvps=10)
    with pytest.raises(OptionError, match="^time_budget has no effect: method='paper'"):
        prunelimit.bounds(model, train, method="paper", time_budget=5)
    with pytest.raises(OptionError, match="^max_hvps has no effect: iterations/runs fix the plan"):
        prunelimit.spectrum(model, train, runs=2, max_hvps=10)
    with pytest.raises(OptionError, match="^sweep must be at least 0, got -3"):
        prunelimit.verify(model, train, sweep=-3)
    with pytest.raises(OptionError, match="^acc_drop is in percentage points"):
        prunelimit.verify(model, train, acc_drop=-1)
    with pytest.raises(OptionError, match="^per_layer must be True or False, got 'yes'"):
        prunelimit.bounds(model, train, per_layer="yes")
    with pytest.raises(OptionError, match="^batch_size must be at least 1, got 0$"):  # --batch-size's own words
        prunelimit.bounds(model, train, batch_size=0)
    # a value of the wrong kind is named before any work (include="0" was read letter by letter,
    # a truthy allow_incompatible="no" allowed, progress=3 a TypeError after the curvature work began)
    with pytest.raises(OptionError, match="^include must be a tuple of glob patterns .* write \\('0.\\*',\\)"):
        prunelimit.bounds(model, train, include="0.*")
    with pytest.raises(OptionError, match="^exclude must be a tuple of glob patterns"):
        prunelimit.prune(model, 0.5, exclude=2)
    with pytest.raises(OptionError, match="^allow_incompatible must be True or False, got 'no'"):
        prunelimit.gate(model, train, min_ratio=0.1, allow_incompatible="no")
    for call in (prunelimit.bounds, prunelimit.spectrum, prunelimit.verify):
        with pytest.raises(OptionError, match="^progress must be a function or None, got int 3"):
            call(model, train, progress=3)
    # nor one of the wrong signature: its own TypeError ended the run once the products began
    for call in (prunelimit.bounds, prunelimit.spectrum, prunelimit.verify):
        with pytest.raises(OptionError, match=r"^progress must take \(done, total=None, text=None\); it is called "
                                              r"with 2 positional arguments, which progress\(done\) does not take"):
            call(model, train, progress=lambda done: None)
    with pytest.raises(OptionError, match=r"it is called with 1 positional argument, which progress\(\) does not"):
        prunelimit.prune(model, "auto", train, progress=lambda: None)
    with pytest.raises(UsageError, match="^config must be a prunelimit.laws.nplh.NplhConfig or None"):
        prunelimit.nplh(model, train, config={"mode": "static"})
    with pytest.raises(UsageError, match=r"^unknown option 'metirc'; did you mean 'metric'\?$"):
        prunelimit.nplh(model, train, metirc="magnitude")


def test_data_that_does_not_fit_names_the_argument(model, train):
    x, y = train
    with pytest.raises(InputError, match="^the model fails on eval_data .*; check model and eval_data$"):
        prunelimit.verify(model, train, eval_data=(x[:, :10], y))
    with pytest.raises(InputError, match=r"^data has real-valued targets; they are whole numbers: give class "
                                         r"indices as integers y.long\(\), or use loss='mse' for regression$"):
        prunelimit.bounds(model, (x, y.float()))
    with pytest.raises(InputError, match="^data has real-valued targets; use loss='mse' for regression$"):
        prunelimit.bounds(model, (x, y.float() + 0.5))
    with pytest.raises(InputError, match=r"^data: y holds 1 value\(s\) per sample but the model gives 10 outputs; "
                                         r"the mse loss needs one target per output \(class labels: use loss='ce'\)$"):
        prunelimit.bounds(model, (x, y.float()), loss="mse")  # it said "shape '[128, 10]' is invalid ..."
    one_hot = torch.nn.functional.one_hot(y, 10).float()
    with pytest.raises(InputError, match=r"^data has real-valued targets; it is one-hot: give class indices "
                                         r"y.argmax\(1\), or use loss='mse'$"):
        prunelimit.bounds(model, (x, one_hot))
    soft = torch.softmax(torch.randn(len(y), 10, generator=torch.Generator().manual_seed(0)), 1)
    with pytest.raises(InputError, match=r"^data has real-valued targets; they are probabilities \(soft targets\): "
                                         r"give class indices y.argmax\(1\), or keep them with "
                                         r"loss=nn.CrossEntropyLoss\(\), which takes probabilities$"):
        prunelimit.bounds(model, (x, soft))  # it said "use loss='mse' for regression"
    with pytest.raises(InputError, match="use loss='mse' for regression$"):  # rows that sum to 2: not probabilities
        prunelimit.bounds(model, (x, 2 * soft))
    with pytest.raises(InputError, match="use loss='mse' for regression$"):  # two ones in a row: not one-hot
        prunelimit.bounds(model, (x, one_hot + torch.nn.functional.one_hot((y + 1) % 10, 10)))


F = torch.nn.functional


def _criterion_id(criterion) -> str:
    """A test id without memory addresses: a function's or a partial's name, a module's repr."""
    if isinstance(criterion, functools.partial):
        return f"partial-{criterion.func.__name__}"
    return criterion.__name__ if hasattr(criterion, "__name__") else re.sub(r"[^\w=.,]+", "", repr(criterion))


# torch's criteria of class indices, as modules, functions and partials, with and without settings
CLASS_CRITERIA = [torch.nn.CrossEntropyLoss(), F.cross_entropy, torch.nn.CrossEntropyLoss(label_smoothing=0.1),
                  functools.partial(F.cross_entropy, label_smoothing=0.1), torch.nn.NLLLoss(), F.nll_loss,
                  torch.nn.NLLLoss(weight=torch.ones(10)), torch.nn.MultiMarginLoss(), F.multi_margin_loss]


@pytest.mark.parametrize("criterion", CLASS_CRITERIA, ids=_criterion_id)
def test_class_criteria_check_their_labels_as_ce_does(model, train, criterion):
    """Float labels, a label column or labels past the outputs: the criterion's own error
    ("expected target dtype to be Long or Byte, but got Float") read "the loss failed ...;
    check that data, model and loss fit together", which says nothing of what to change."""
    x, y = train
    name = getattr(getattr(criterion, "func", criterion), "__name__", type(criterion).__name__)
    with pytest.raises(InputError, match=rf"^data has real-valued targets, and the {name} criterion takes class "
                                         r"indices; they are whole numbers: give class indices as integers y.long\(\)"):
        prunelimit.inputs_from(copy.deepcopy(model), (x, y.float()), loss=criterion)
    with pytest.raises(InputError, match=rf"^data: y has shape \(300, 1\), but the {name} criterion needs one class "
                                         r"index per sample \(a 1-D y\); .* a column with y.squeeze\(1\)$"):
        prunelimit.inputs_from(copy.deepcopy(model), (x, y[:, None]), loss=criterion)
    with pytest.raises(InputError, match="^data has label 12 but the model has 10 outputs; check data and model"):
        prunelimit.inputs_from(copy.deepcopy(model), (x, torch.where(y == 3, 12, y)), loss=criterion)
    assert prunelimit.inputs_from(copy.deepcopy(model), train, loss=criterion).batches[0][1].dtype == torch.int64


@pytest.mark.parametrize("criterion", ["ce", *CLASS_CRITERIA], ids=_criterion_id)
def test_bool_or_negative_class_labels_are_refused_with_the_fix(model, train, criterion):
    """Bool labels (``y = x[:, 0] > 0``) failed as "the loss failed on data (RuntimeError:
    expected target dtype to be Long or Byte, but got Bool)", a label -1 as "(IndexError:
    Target -1 is out of bounds.)"; a -100 (torch's ignore_index) was taken: its samples counted
    in N and ε but not in the loss, which then warned twice that it was no per-sample mean. Each
    is refused with what to give, and the fixes given are taken."""
    x, y = train
    name = "the ce loss" if criterion == "ce" else \
        f"the {getattr(getattr(criterion, 'func', criterion), '__name__', type(criterion).__name__)} criterion"
    binary = y % 2 == 1  # classes 0 and 1 of the model's 10
    with pytest.raises(InputError, match=rf"^data: y is bool, but {name} takes class indices as integers; give "
                                         r"y\.long\(\) \(False as class 0, True as class 1\)$"):
        prunelimit.inputs_from(copy.deepcopy(model), (x, binary), loss=criterion)
    assert torch.equal(prunelimit.inputs_from(copy.deepcopy(model), (x, binary.long()), loss=criterion).batches[0][1],
                       binary[:128].long())
    for missing in (-1, -100):
        labelled = torch.where(torch.arange(len(y)) % 7 == 0, missing, y)
        with pytest.raises(InputError, match=rf"^data has label {missing}, below 0; class labels index the model's 10 "
                                             r"outputs, 0 to 9: leave out the samples without one \(keep = y >= 0, "
                                             r"then x\[keep\], y\[keep\]\)$"):
            prunelimit.inputs_from(copy.deepcopy(model), (x, labelled), loss=criterion)
        keep = labelled >= 0
        assert sum(len(b[1]) for b in prunelimit.inputs_from(copy.deepcopy(model), (x[keep], labelled[keep]),
                                                              loss=criterion).batches) == int(keep.sum())


def test_cross_entropy_criteria_take_probabilities_as_soft_targets(model, train):
    """Real-valued targets of the output's shape are what torch's cross-entropy calls soft
    targets, not a mistake (NLL has none: there they are refused)."""
    x, y = train
    soft = F.one_hot(y, 10).float() * 0.9 + 0.01
    for criterion in (torch.nn.CrossEntropyLoss(), F.cross_entropy):
        given = prunelimit.inputs_from(copy.deepcopy(model), (x, soft), loss=criterion)
        assert torch.equal(given.loss_fn(model, given.batches[0]), F.cross_entropy(model(x[:128]), soft[:128]))
    with pytest.raises(InputError, match=r"the NLLLoss criterion takes class indices; they are probabilities \(soft "
                                         r"targets\): .* loss=nn.CrossEntropyLoss\(\), which takes probabilities$"):
        prunelimit.inputs_from(copy.deepcopy(model), (x, soft), loss=torch.nn.NLLLoss())


# torch's element-wise criteria (one target per output), as modules, functions and partials
POINTWISE_CRITERIA = [
    torch.nn.L1Loss(), F.l1_loss, torch.nn.SmoothL1Loss(), F.smooth_l1_loss, torch.nn.HuberLoss(delta=0.5),
    F.huber_loss, torch.nn.BCELoss(), F.binary_cross_entropy, torch.nn.BCEWithLogitsLoss(),
    F.binary_cross_entropy_with_logits, torch.nn.KLDivLoss(reduction="batchmean"),
    functools.partial(F.kl_div, reduction="batchmean"),
    torch.nn.PoissonNLLLoss(), F.poisson_nll_loss, torch.nn.SoftMarginLoss(), F.soft_margin_loss,
    torch.nn.HingeEmbeddingLoss(), F.hinge_embedding_loss, torch.nn.MultiLabelSoftMarginLoss(),
    F.multilabel_soft_margin_loss, functools.partial(F.l1_loss, reduction="mean"),
    torch.nn.MultiLabelMarginLoss(), F.multilabel_margin_loss,
]


@pytest.mark.parametrize("criterion, name, fix", [
    (torch.nn.CrossEntropyLoss(reduction="sum"), "CrossEntropyLoss", "'mean' (the default)"),
    (functools.partial(F.cross_entropy, reduction="sum"), "cross_entropy", "'mean' (the default)"),
    (torch.nn.MSELoss(reduction="sum"), "MSELoss", "'mean' (the default)"),
    (torch.nn.KLDivLoss(reduction="sum"), "KLDivLoss", "'batchmean' (or the default 'mean')"),
    (functools.partial(functools.partial(F.l1_loss, reduction="mean"), reduction="sum"), "l1_loss",
     "'mean' (the default)"),
], ids=["CrossEntropyLoss", "partial-cross_entropy", "MSELoss", "KLDivLoss", "partial-of-partial-l1"])
def test_a_criterion_that_sums_over_the_batch_is_refused_naming_the_mean(model, train, criterion, name, fix):
    """The loss is the batch's mean: with reduction='sum' the loss, ε and curvature were sums,
    and a short last batch weighed less than its samples' share: ρ* on the digits moved (0.712
    to 0.727) and the measured limit too (0.331 to 0.435), with a warning whose fix,
    ``chunk_samples='batches'``, no function takes. Refused before any data is read."""
    x, y = train
    data = (x, y) if name not in ("MSELoss", "KLDivLoss", "l1_loss") else (x, F.one_hot(y, 10).float())
    with pytest.raises(InputError, match=rf"^loss: the {name} criterion has reduction='sum', the batch's total, which "
                                         rf"grows with the batch size; .* use reduction={re.escape(fix)}$"):
        prunelimit.bounds(model, data, loss=criterion)
    # the outer setting is the one the call takes: a mean over a partial that summed is a mean
    mean = functools.partial(functools.partial(F.cross_entropy, reduction="sum"), reduction="mean")
    assert prunelimit.info(model, (x, y), loss=mean).loss == pytest.approx(prunelimit.info(model, (x, y)).loss,
                                                                              rel=1e-6)  # float32 sums


@pytest.mark.parametrize("criterion", POINTWISE_CRITERIA, ids=_criterion_id)
def test_elementwise_criteria_read_y_in_the_outputs_shape(criterion):
    """A (N, 1) output against a (N,) y: the criterion broadcast them to N × N in silence (a
    warning at most), another loss than the one it names, as ``nn.MSELoss()`` did before it
    was read as ``mse``. Now y is read in the output's shape (and its float type: BCE's 0/1
    labels are often integers), and a y of another size is refused, naming the criterion."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 1), torch.nn.Sigmoid())  # in (0, 1): BCE's input too
    x = torch.randn(32, 4)
    target = getattr(criterion, "func", criterion)
    integer = isinstance(target, torch.nn.MultiLabelMarginLoss) or target is F.multilabel_margin_loss
    for y in ([torch.zeros(32, dtype=torch.long)] if integer else [torch.rand(32), torch.randint(0, 2, (32,))]):
        given = prunelimit.inputs_from(net, (x, y), loss=criterion, batch_size=16)
        expected = criterion(net(x[:16]), y[:16, None] if integer else y[:16, None].float())
        assert torch.equal(given.loss_fn(net, given.batches[0]), expected)
    name = getattr(target, "__name__", type(target).__name__)
    wide = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Sigmoid())
    with pytest.raises(InputError, match=rf"^data: y holds 1 value\(s\) per sample but the model gives 3 outputs; "
                                         rf"the {name} criterion needs one target per output \(class labels: use loss='"
                                         r"ce'\)$"):
        prunelimit.inputs_from(wide, (x, y), loss=criterion)


def test_integer_labels_of_any_width_read_as_the_command_line_reads_them(model, train):
    x, y = train
    reference = prunelimit.bounds(model, (x, y)).ratio
    assert prunelimit.bounds(model, (x, y.int())).ratio == reference
    halves = [(x[:150], y[:150]), (x[150:], y[150:])]
    assert prunelimit.bounds(model, [(a, b.to(torch.int16)) for a, b in halves]).ratio == \
        prunelimit.bounds(model, halves).ratio


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32])
def test_integer_inputs_of_any_width_reach_an_embedding_as_the_command_line_gives_them(dtype):
    """A data spec reads integer x of any width as int64 token ids; the library passed them
    as given, and ``nn.Embedding`` takes int32 or int64 only (uint8 or int16 ids failed with
    a fix that said to make them floats)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(17, 4), torch.nn.Flatten(), torch.nn.Linear(4 * 8, 3))
    x, y = torch.randint(0, 17, (96, 8)), torch.randint(0, 3, (96,))
    reference = prunelimit.bounds(model, (x, y), method="exact", batch_size=32).ratio
    assert prunelimit.bounds(model, (x.to(dtype), y), method="exact", batch_size=32).ratio == reference
    batches = [(x[i:i + 32].to(dtype), y[i:i + 32]) for i in range(0, 96, 32)]
    assert prunelimit.bounds(model, batches, method="exact").ratio == reference


def test_a_float_type_mismatch_says_to_convert_either_side(model, train):
    x, y = train
    with pytest.raises(InputError, match=r"^the model has float32 parameters but data is float64; convert one of "
                                         r"them: x.to\(torch.float32\) for every batch, or model.to\(torch.float64\)$"):
        prunelimit.bounds(model, (x.double(), y))
    reference = prunelimit.bounds(copy.deepcopy(model).double(), (x.double(), y))  # one type: accepted
    assert 0 < reference.ratio < 1


def test_a_model_of_two_float_types_is_told_to_take_one(model, train):
    """A head left in float64 beside a float32 backbone was told ``x.to(torch.float32) for
    every batch`` on float32 data, which changes nothing; its parameters need one type."""
    mixed = copy.deepcopy(model)
    mixed[-1].double()
    with pytest.raises(InputError, match=r"^the model has float32/float64 parameters but data is float32; give its "
                                         r"parameters one float type: model.to\(torch.float32\)$"):
        prunelimit.bounds(mixed, train)


def test_gate_on_objects(model, train):
    """``prunelimit.gate`` is ``prunelimit gate``: the rules are checked before any work and
    a rule is judged on the conservative side."""
    report = prunelimit.gate(model, train, min_ratio=0.01, method="exact")
    assert report.passed and report.result.outcomes[0].rule.min_ratio == 0.01
    assert report.to_json()["rules"][0]["passed"]
    failed = prunelimit.gate(model, train, min_ratio=0.99, use="predicted", method="exact")
    assert not failed.passed and "< required 0.9900" in failed.result.reason
    with pytest.raises(UsageError, match=r"^the gate has no rule: pass min_ratio=0\.9 and/or baseline='report\.json' max_drop=0\.01$"):
        prunelimit.gate(model, train)
    with pytest.raises(UsageError, match="min_ratio must be a ratio in \\[0, 1\\], got 1.5"):
        prunelimit.gate(model, train, min_ratio=1.5)
    with pytest.raises(OptionError, match="^use='upper'"):
        prunelimit.gate(model, train, min_ratio=0.5, use="upper")
    with pytest.raises(UsageError, match="gate rule 'tight': max_drop needs baseline"):
        prunelimit.gate(model, train, rules=[{"name": "tight", "min_ratio": 0.5, "max_drop": 0.1}])


@pytest.mark.parametrize("call", [
    lambda model, train, value: prunelimit.prune(model, value),
    lambda model, train, value: prunelimit.bounds(model, train, tolerance=value),
    lambda model, train, value: prunelimit.verify(model, train, acc_drop=value),
    lambda model, train, value: prunelimit.gate(model, train, min_ratio=value),
    lambda model, train, value: prunelimit.nplh(model, train, rate=value),
])
@pytest.mark.parametrize("value, kind", [("0.5", r"a str, not a number: write 0.5, without quotes$"),
                                         (True, r"a bool, not a number$")])
def test_a_number_argument_takes_numbers_only(model, train, call, value, kind):
    """Numbers are numbers in every function: prune took the text "0.5" where hyperflux,
    bounds, … refused it, and refused True as "pruning ratio True is outside [0, 1)"; the
    refusal says it is no number (not a value out of range) and how to write it."""
    with pytest.raises(UsageError, match=f"got {value!r}, {kind}"):
        call(model, train, value)


def test_a_results_warnings_name_the_librarys_arguments(model, train):
    """A plainly trained model's advice said "train with l1 (`prunelimit train --l1 ...`)"
    and the negative mass "(handled as --negative abs)" to a caller who has no flags. (This
    untrained model's ρ_L and ρ* − 5 points are measured within the limit, so its regime
    warning names verify, not l1 training: tests/api/test_bounds_overshoot.py has that case;
    verify's own result says it measured the limit, bounds' names the function.)"""
    report = prunelimit.verify(model, train)
    said = " ".join((*report.warnings, *report.diagnosis))
    assert "the actual limit measured here is it" in said and "negative='abs'" in said
    assert "prunelimit.verify measures it" in " ".join(report.bounds.warnings)
    assert re.search(r"(?<![\w-])--[a-z]|`prunelimit ", said) is None, said


def test_prune_reads_auto_and_lower_and_no_other_text(model, train):
    with pytest.raises(OptionError, match="^ratio must be a removed fraction in \\[0, 1\\), 'auto' or 'lower', got "
                                          "'half', a str, not a number$"):
        prunelimit.prune(model, "half")
    with pytest.raises(UsageError, match="^ratio='lower' needs the bound ρ_L: drop bound_mode='none', or use "
                                         "ratio='auto'$"):
        prunelimit.prune(model, "lower", train, bound_mode="none")


@pytest.mark.parametrize("ratio", [0.5, np.float32(0.5)])  # a numpy float is a number
def test_prune_refuses_options_a_given_ratio_ignores(model, train, ratio):
    """Curvature options set the prediction: beside a number they did nothing, in silence (a
    misspelt one too), where the command line refuses the flag with ``--ratio 0.5``."""
    with pytest.raises(UsageError, match="^method has no effect: ratio=0.5 is given, nothing is predicted; drop it, "
                                         "or use ratio='auto' or ratio='lower'$") as caught:
        prunelimit.prune(model, ratio, train, method="exact")
    assert caught.value.renamed(lambda name: "--" + name).startswith("--method has no effect: ratio=0.5")
    with pytest.raises(UsageError, match="^unknown option 'scop'; curvature options are"):
        prunelimit.prune(model, ratio, scop="layer")
    with pytest.raises(OptionError, match="^tolerance"):
        prunelimit.prune(model, ratio, tolerance=-1.0)
    assert prunelimit.prune(model, "auto", train, method="exact").requested == \
        prunelimit.bounds(model, train, method="exact").ratio


NUMPY_SEEDED = {
    "bounds": lambda m, d, seed: prunelimit.bounds(m, d, method="slq", seed=seed).ratio,
    "train": lambda m, d, seed: [r.train_loss for r in prunelimit.train(m, d, epochs=1, seed=seed).history],
    "hyperflux": lambda m, d, seed: prunelimit.hyperflux(m, d, 0.5, pruning_epochs=2, regrowth_epochs=0, gate_lr=0.06,
                                                         seed=seed).density,
    "verify refit": lambda m, d, seed: prunelimit.verify(m, d, method="exact", refit=True, finetune_epochs=1,
                                                         seed=seed).refit.points,
    "nplh": lambda m, d, seed: json.dumps(prunelimit.nplh(m, d, seed=seed).to_json()),
}


@pytest.mark.parametrize("name", NUMPY_SEEDED)
def test_a_numpy_integer_seed_is_the_number_it_holds(model, train, name):
    """Number arguments take NumPy scalars: a ``np.int64`` seed failed inside torch
    (``manual_seed``: 'TypeError: an integer is required', or 'OverflowError: Python int too
    large to convert to C long' from the epoch's seed), and one recorded in a result's
    settings made ``json.dumps(result.to_json())`` fail. Now it gives what the int gives."""
    run = NUMPY_SEEDED[name]
    assert run(copy.deepcopy(model), train, np.int64(3)) == run(copy.deepcopy(model), train, 3)


@pytest.mark.parametrize("option", ["data", "eval_data"])
@pytest.mark.parametrize("batches, found", [
    (lambda x, y: [(x[:100], y[:100]), (x[:0], y[:0])], "1: x has 0 samples and y 0"),
    (lambda x, y: [(x[:10], y[:9])], "0: x has 10 samples and y 9"),
])
def test_a_batch_without_samples_or_with_uneven_x_and_y_names_the_argument(model, train, option, batches, found):
    """A list or loader batch is checked as a tensor pair is: an empty batch was a bare
    RuntimeError or a NaN loss, x and y of different lengths a failing loss."""
    x, y = train
    data, eval_data = (batches(x, y), None) if option == "data" else (train, batches(x, y))
    with pytest.raises(UsageError, match=f"^{option} batch {found}; give every batch the same non-zero number$"):
        prunelimit.verify(model, data, eval_data=eval_data)


@pytest.mark.parametrize("criterion", [torch.nn.MSELoss(), torch.nn.functional.mse_loss])
def test_torchs_squared_error_computes_what_mse_does(criterion):
    """Reports record torch's default squared error as ``mse``: a (N, 1) output against a
    (N,) y was broadcast to N × N by the criterion (another ρ* under the same name), where
    ``mse`` reshapes y to the output."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x = torch.randn(64, 4)
    y = x.sum(1)  # one target per sample, 1-D
    reference = prunelimit.bounds(net, (x, y), loss="mse", batch_size=16, method="exact")
    given = prunelimit.bounds(net, (x, y), loss=criterion, batch_size=16, method="exact")
    assert given.ratio == reference.ratio and given.to_json()["data"]["loss"] == "mse"
    trained, plain = copy.deepcopy(net), copy.deepcopy(net)
    assert prunelimit.train(trained, (x, y), loss=criterion, batch_size=16, epochs=2).history == \
        prunelimit.train(plain, (x, y), loss="mse", batch_size=16, epochs=2).history


def test_a_model_with_every_parameter_frozen_is_a_usage_error(model, train):
    """D = 0: refused with what to change (it was a ZeroDivisionError in the solver's cost model)."""
    for p in model.parameters():
        p.requires_grad_(False)
    for call in (prunelimit.bounds, prunelimit.spectrum):
        with pytest.raises(UsageError, match="no parameters for the Hessian: every selected parameter is frozen"):
            call(model, train)
    assert not any(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("name, examples", [("prunelimit.library", 30), ("prunelimit.library_training", 20)])
def test_docstring_examples_run_as_doctests(name, examples):
    """Each public function of the library carries an example; they run in order after the
    module's, which trains the model they use (one namespace, as a reader would type them)."""
    import importlib

    module = importlib.import_module(name)
    tests = doctest.DocTestFinder().find(module)  # sorted by name: the module's own comes first
    assert tests[0].name == name
    if name != "prunelimit.library":  # its examples go on from the library's, which trains the model
        tests.insert(0, doctest.DocTestFinder().find(importlib.import_module("prunelimit.library"))[0])
    runner, namespace = doctest.DocTestRunner(), dict(vars(module))
    for test in tests:
        test.globs = namespace
        runner.run(test, clear_globs=False)
    result = runner.summarize(verbose=False)
    assert result.attempted >= examples and result.failed == 0


@pytest.mark.parametrize("module", ["prunelimit.laws.errorlaw", "prunelimit.laws.nplh",
                                    "prunelimit.sparse.sparse_file"])
def test_examples_of_the_other_public_functions_run(module):
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_every_public_name_has_an_example():
    """``import prunelimit`` offers these; each one's docstring shows it in use."""
    missing = [name for name in prunelimit.__all__ if name != "__version__"
               and ">>>" not in (getattr(prunelimit, name).__doc__ or "")
               and not any(">>>" in (member.__doc__ or "") for member in vars(getattr(prunelimit, name)).values()
                           if callable(member))]
    assert missing == []


def test_nplh_leaves_the_model_and_torchs_random_state_as_they_were(model, train):
    """The iterative mode prunes and fine-tunes and seeds torch's generator: on the caller's
    model that used to leave it pruned, so a second call in a notebook fitted another
    network. The weights and the random state are restored, and two calls agree."""
    before = copy.deepcopy(model.state_dict())
    torch.manual_seed(123)
    state = torch.get_rng_state()
    settings = dict(mode="iterative", rate=0.3, finetune_steps=2, region=(0.01, 0.9))
    first = prunelimit.nplh(model, train, **settings)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert prunelimit.nplh(model, train, **settings).to_json() == first.to_json()
    with pytest.raises(UsageError, match="widen the region"):  # refused after the training ran
        prunelimit.nplh(model, train, mode="pressure", pressures=(1e-4, 1e-3, 1e-2), epochs_per_level=4)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("mode", ["iterative", "pressure"])
def test_nplh_leaves_the_callers_gradients_as_they_were(model, train, mode):
    """A caller accumulating gradients over several backward passes gets them back, and a
    parameter without a gradient stays without (the fine-tuning rounds left theirs)."""
    torch.nn.functional.cross_entropy(model(train[0][:16]), train[1][:16]).backward()
    model[2].bias.grad = None
    held = {name: p.grad for name, p in model.named_parameters()}
    kept = {name: None if g is None else g.clone() for name, g in held.items()}
    settings = dict(rate=0.3, finetune_steps=2) if mode == "iterative" else dict(epochs_per_level=1)
    with contextlib.suppress(UsageError):  # a fit refused after the training ran leaves them too
        prunelimit.nplh(model, train, mode=mode, **settings)
    for name, p in model.named_parameters():
        assert p.grad is held[name] and (kept[name] is None or torch.equal(p.grad, kept[name])), name


def test_a_gate_baseline_can_be_a_path(model, train, tmp_path):
    """A Python caller holds paths as ``pathlib.Path``: a baseline given so is read like its
    file name (it was refused as "baseline must be a file name")."""
    import json

    from prunelimit.report.jsonout import document

    stored = tmp_path / "baseline.json"
    stored.write_text(json.dumps(document("bounds", prunelimit.bounds(model, train).to_json())))
    report = prunelimit.gate(model, train, baseline=stored, max_drop=0.0, use="predicted")
    assert report.passed and report.result.outcomes[0].baseline == report.result.outcomes[0].measured
    assert prunelimit.gate(model, train, rules=[{"baseline": stored, "max_drop": 0.0}]).passed


def test_a_model_pruned_with_torch_is_read_as_its_saved_file(model, train, tmp_path):
    """``Pruning.apply`` leaves ``weight_orig``/``weight_mask``: the analyses refused such a
    model ("no prunable weights selected; check include/exclude", its weights being no
    parameters). They read it as the command line reads the same model saved: the same ρ*
    and law, a pruned weight stays pruned, and the model keeps its torch pruning."""
    pruned = prunelimit.prune(model, 0.5).apply(copy.deepcopy(model))
    path = tmp_path / "pruned.pt"
    torch.save(pruned.state_dict(), path)
    before = copy.deepcopy(pruned.state_dict())
    from_file = load_inputs(path, model=SPEC, data="digits:train", max_samples=SAMPLES)
    # torch's pruning registers weight_orig after the bias, so the Hessian's parameters come
    # in another order than the spec builds them, and the exact eigendecomposition rounds
    # otherwise: the same ρ* to a few ulps (1e-12 relative), not bit for bit
    assert prunelimit.bounds(pruned, train).ratio == pytest.approx(api.bounds(from_file).ratio, rel=1e-12)
    assert prunelimit.nplh(pruned, train).alpha0 == api.nplh(from_file).alpha0  # magnitudes: no rounding
    assert prunelimit.prune(pruned, 0.3).achieved == 0.5  # a lower ratio brings nothing back
    assert sorted(name for name, _ in pruned.named_parameters()) == ["0.bias", "0.weight_orig", "2.bias",
                                                                      "2.weight_orig"]
    after = pruned.state_dict()  # weight_orig's hidden values too: the model is left as it was
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_nplh_iterative_holds_a_pruned_tensor_it_does_not_rank(model, train, tmp_path):
    """A checkpoint with a pruned bias (a tensor NPLH does not rank): its fine-tuning rounds
    hold the bias mask as they hold the weights' (the bias trained back); the library reads a
    model pruned with torch the same way."""
    bias = torch.arange(12) % 2 == 0
    path = tmp_path / "pruned.pt"
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["0.bias"][~bias] = 0.0
    save_checkpoint(path, SPEC, state, {"0.bias": bias})
    inputs = load_inputs(path, data="digits:train", max_samples=SAMPLES)
    from_file = api.nplh(inputs, mode="iterative", rate=0.5, finetune_steps=5)
    assert bool((inputs.model[0].bias[~bias] == 0).all())  # the file's model is fine-tuned in place
    pruned = copy.deepcopy(model)
    torch_prune.custom_from_mask(pruned[0], "bias", bias)
    body, doc = prunelimit.nplh(pruned, train, mode="iterative", rate=0.5, finetune_steps=5).to_json(), from_file.to_json()
    # the same points and fit; the warning on the bias mask, which N does not count, names its source
    assert [w.replace("the model", f"checkpoint {path}") for w in body.pop("warnings")] == doc.pop("warnings")
    assert body == doc


def test_a_loaders_second_pass_is_hashed_as_it_is_read_not_held() -> None:
    """The determinism check held a loader's whole second pass beside the first (a 100,000 ×
    784 DataLoader peaked 0.2 GB higher); it now hashes each batch as it comes."""
    import weakref

    from prunelimit.library import as_batches

    class Loader:
        """Fixed batches made afresh on each pass, as a DataLoader collates them."""

        def __init__(self) -> None:
            self.passes, self.alive = 0, []

        def __iter__(self):
            self.passes += 1
            made = []
            for i in range(20):
                x, y = torch.full((4, 3), float(i)), torch.arange(4) % 2
                made.append(weakref.ref(x))
                if self.passes == 2:  # batches of this pass still held when the next one is made
                    self.alive.append(sum(r() is not None for r in made))
                yield x, y

    loader = Loader()
    batches = as_batches(loader, option="data")
    assert loader.passes == 2 and len(batches) == 20 and torch.equal(batches[7][0], torch.full((4, 3), 7.0))
    assert max(loader.alive) <= 2


@pytest.mark.parametrize("option", [{"time_budget": 5.0}, {"max_hvps": 10}, {"tolerance": 0.05}, {"method": "exact"},
                                    # the bounds' settings and the negative-curvature rule act on the spectrum too
                                    {"eta": 0.05}, {"bound_mode": "geom"}, {"negative": "flat"}])
def test_a_gate_on_the_measured_limit_refuses_what_only_the_spectrum_reads(model, train, no_curvature, option):
    """Rules that all use the measured limit compute no spectrum: a budget or another
    spectrum option beside them did nothing, in silence, as the command line's flag did;
    ε, which the search reads, stays."""
    with pytest.raises(UsageError, match=f"^{next(iter(option))} has no effect: every rule uses the measured limit "
                       r"\(use='actual'\), which computes no spectrum; drop it, or gate on use='lower' or use='predicted'$"):
        prunelimit.gate(model, train, min_ratio=0.1, use="actual", **option)
    assert prunelimit.gate(model, train, min_ratio=0.0, use="actual", epsilon=0.05).passed


def test_a_gate_on_the_measured_limit_refuses_a_seed(model, train, no_curvature):
    """The seed draws SLQ's probes and the Hessian's subset; the measured limit's search draws
    nothing, so ``seed=`` beside rules that all use it changed nothing, in silence, where
    ``gate --use actual --seed 3`` is refused (exit 2). A rule that reads a prediction keeps it."""
    with pytest.raises(UsageError, match=r"^seed has no effect: nothing is drawn at random \(every rule uses the "
                       r"measured limit \(use='actual'\), which computes no spectrum\); drop it, or gate on "
                       r"use='lower' or use='predicted'$"):
        prunelimit.gate(model, train, rules=[{"use": "actual", "min_ratio": 0.1}], seed=3)


def test_allow_incompatible_without_a_baseline_is_refused(model, train, no_curvature):
    """``allow_incompatible=True`` with no rule on a baseline compared nothing and said nothing,
    as ``--allow-incompatible-baseline`` did; both are refused, before any work."""
    with pytest.raises(UsageError, match=r"^allow_incompatible has no effect: no rule reads a baseline; drop it, or "
                                         r"add baseline and max_drop$"):
        prunelimit.gate(model, train, min_ratio=0.0, use="actual", allow_incompatible=True)


def _small_trained_mlp() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A 6-10-3 MLP (D = 103) trained a little on 96 seeded samples: off its initialisation."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(96, 6, generator=generator)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 10), torch.nn.Tanh(), torch.nn.Linear(10, 3))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(60):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimiser.step()
    return model.eval(), x, y


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_slq_on_a_half_precision_model_takes_its_products_in_float32(dtype):
    """SLQ took a float16/bfloat16 model's products in its own type, 3-4 digits: ρ* moved by up
    to 0.02 from the exact (float64) spectrum of the same weights (here 2e-3 and 1.5e-5). In
    float32 the two agree to ~1e-8."""
    model, x, y = _small_trained_mlp()
    model, x = model.to(dtype), x.to(dtype)
    exact = prunelimit.bounds(model, (x, y), batch_size=32, method="exact")
    slq = prunelimit.bounds(model, (x, y), batch_size=32, method="slq")
    assert slq.spectrum.solver == "slq-h"
    assert abs(slq.ratio - exact.ratio) < 1e-6
    assert slq.spectrum.lambda_max == pytest.approx(exact.spectrum.lambda_max, rel=1e-6)
    assert all(p.dtype == dtype for p in model.parameters())


@pytest.mark.parametrize("kind, options", [(torch.nn.LSTM, {}), (torch.nn.GRU, {}),
                                           (torch.nn.LSTM, {"num_layers": 2, "bidirectional": True, "proj_size": 4})])
def test_prune_with_an_included_recurrent_layer_and_apply_run_the_masked_weights(kind, options):
    """``prune(include=("rnn",))`` ranks the recurrent layer's weight matrices with the head:
    exactly ceil(ρN) removed across them, and ``apply`` (``custom_from_mask`` on
    ``weight_ih_l0``...) gives a model whose forward uses the masked values, the outputs of
    the same model with those weights zeroed by hand."""
    from tests.models.test_params import _recurrent

    model = _recurrent(kind, options)
    pruning = prunelimit.prune(model, 0.5, include=("rnn",))
    rnn = {f"rnn.{name}" for name, p in model.rnn.named_parameters() if name.startswith("weight")}
    assert set(pruning.masks) == rnn | {"head.weight"}
    n = sum(m.numel() for m in pruning.masks.values())
    assert sum(int((~m).sum()) for m in pruning.masks.values()) == -(-n // 2)
    by_hand = _recurrent(kind, options)
    with torch.no_grad():
        for name, keep in pruning.masks.items():
            by_hand.get_parameter(name).masked_fill_(~keep, 0.0)
    applied = pruning.apply(_recurrent(kind, options))
    assert hasattr(applied.rnn, "weight_ih_l0_orig")  # pruned through torch.nn.utils.prune
    x = torch.randn(5, 64)
    with torch.no_grad():
        assert torch.equal(applied(x), by_hand(x)) and not torch.equal(by_hand(x), model(x))


# Each call on a model, and what of its result depends on the prunable set (N, ρ*, the masks, …).
_SET_CALLS = {
    "info": lambda m, data, **kw: prunelimit.info(m, data, **kw).to_json(),
    "spectrum": lambda m, data, **kw: prunelimit.spectrum(m, data, **kw).limit_ratio,
    "bounds": lambda m, data, **kw: (lambda r: (r.ratio, r.lower, r.upper, r.to_json()["params"]))(
        prunelimit.bounds(m, data, **kw)),
    "verify": lambda m, data, **kw: (lambda r: (r.prediction.ratio, r.actual.loss_ratio, r.actual.accuracy_ratio))(
        prunelimit.verify(m, data, **kw)),
    "gate": lambda m, data, **kw: prunelimit.gate(m, data, min_ratio=0.1, use="predicted", **kw).to_json()["measured"],
    "prune": lambda m, data, **kw: (lambda r: (r.achieved, sorted(r.masks), r.recorded))(
        prunelimit.prune(m, 0.9, **kw)),
    "nplh": lambda m, data, **kw: prunelimit.nplh(m, data, **kw).to_json()["points"],
}


@pytest.mark.parametrize("call", sorted(_SET_CALLS))
def test_a_model_pruned_by_apply_is_read_with_the_set_it_was_pruned_with(model, train, call):
    """``prune(include=/exclude=).apply(model)`` records the set on the model, as ``prunelimit
    prune -o`` records it in the file: every later call counts it without being told again,
    with no warning (they counted the default set, the last layer's masks "outside" it when
    pruned with ``include=``, and warned only then)."""
    import warnings

    pruned = prunelimit.prune(model, 0.5, exclude=("2",)).apply(copy.deepcopy(model))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = _SET_CALLS[call](pruned, train)
    assert not [w for w in caught if "prunable set" in str(w.message) or "pruned with" in str(w.message)]
    assert found == _SET_CALLS[call](pruned, train, exclude=("2",))
    if call in ("info", "bounds"):
        assert (found["params"] if call == "info" else found[3])["prunable"] == model[0].weight.numel()


def test_a_set_given_beside_the_recorded_one_is_used_with_the_command_lines_warning(model, train):
    """An explicit ``include=``/``exclude=`` that differs from the recorded set wins, with one
    ``UserWarning`` and, in the result's ``warnings``, the line the command line prints for a
    pruned file, in the caller's words: the model instead of a checkpoint, the sets as the
    keywords give them (it wrote ``--exclude '0'`` to a caller who had passed ``exclude=("0",)``)."""
    pruned = prunelimit.prune(model, 0.5, exclude=("2",)).apply(copy.deepcopy(model))
    line = "the model was pruned with exclude=('2',); this run uses exclude=('0',), as given."
    for call in (lambda: prunelimit.info(pruned, exclude=("0",)), lambda: prunelimit.prune(pruned, 0.6, exclude=("0",)),
                 lambda: prunelimit.spectrum(pruned, train, exclude=("0",))):
        with pytest.warns(UserWarning) as caught:
            result = call()
        warned = [str(w.message) for w in caught if "pruned with" in str(w.message)]
        assert len(warned) == 1 and warned[0].startswith(line) and "masks on 1 tensor(s)" in warned[0]
        assert warned[0] in result.warnings


def test_a_pruning_records_its_set_as_prune_writes_it_in_a_file(model, tmp_path):
    """``Pruning.recorded`` is the ``meta.pruned`` ``prunelimit prune -o`` writes for the same
    weights, ratio and set; ``export`` of the model ``apply`` pruned carries it in the file's
    header, so the commands reading the file count that set (the header had no ``meta.pruned``
    and the file was read with the default set)."""
    from prunelimit.io.checkpoint import read_checkpoint

    dense = tmp_path / "dense.pt"
    save_checkpoint(dense, SPEC, model.state_dict())
    written = tmp_path / "p.pt"
    api.prune(load_inputs(dense, exclude=("2",)), 0.5, written)
    pruning = prunelimit.prune(model, 0.5, exclude=("2",))
    assert pruning.recorded == read_checkpoint(written).meta["pruned"]
    exported = tmp_path / "lib.safetensors"
    prunelimit.export(pruning.apply(copy.deepcopy(model)), exported, model_spec=SPEC)
    assert load_inputs(exported).selection == load_inputs(written).selection == \
        prunelimit.models.params.ParamSelection(exclude=("2",))


@pytest.mark.parametrize("ratio", ["0.5", "auto"])
def test_a_prunings_json_is_prunes_json_on_the_same_model(cli, model, train, tmp_path, ratio):
    """``Pruning.to_json()`` holds what ``prune --json`` says of the ratio and the layers, with
    the same values: its ``ratio`` lacked ``source`` and ``density``."""
    import json

    path = tmp_path / "m.pt"
    save_checkpoint(path, SPEC, model.state_dict())
    result = cli("prune", path, "--ratio", ratio, "--data", "digits:train", "--max-samples", SAMPLES, "--no-cache",
                 "-o", tmp_path / "p.pt", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    body = prunelimit.prune(model, ratio if ratio == "auto" else float(ratio), train if ratio == "auto" else None).to_json()
    assert body["ratio"] == doc["ratio"] and body["layers"] == doc["layers"]
    # the same warnings, in the library's words where they name an option or a command
    said = [w for w in doc["warnings"] if "holds the pruned weights" not in w]
    assert [w[:30] for w in body["warnings"]] == [w[:30] for w in said]
    assert body["warnings"] != said or not any("--" in w for w in said)


@pytest.mark.parametrize("value, message", [(0, "must be at least 1, got 0"), (2.5, "must be an integer, got 2.5"),
                                            ((1 << 24) + 1, "must be at most 16,777,216 (samples per batch)")])
def test_a_bad_batch_size_is_refused_in_the_command_lines_words(cli, model, train, tmp_path, value, message):
    """The library's ``batch_size`` is checked by the rule ``--batch-size`` is (``limits.check_counts``):
    the same message, its name for the flag's (it said "must be positive", and took any size)."""
    with pytest.raises(OptionError, match=f"^batch_size {re.escape(message)}"):
        prunelimit.bounds(model, train, batch_size=value)
    if isinstance(value, int):
        path = tmp_path / "m.pt"
        save_checkpoint(path, SPEC, model.state_dict())
        result = cli("bounds", path, "--data", "digits:train", "--batch-size", value)
        assert result.exit_code == 2 and f"--batch-size {message}" in result.stderr, result.stderr


def test_a_time_budget_counts_the_calls_loading(model, train, monkeypatch):
    """A ``time_budget`` is the caller's wait, not the spectrum's alone: turning the data into
    batches counts (the command line counts from the process's start, Python's and torch's
    import included). Here the budget's clock gains 10 ms a reading and 100 s of loading: the
    spectrum, which once got its whole 50 s after them and refined to the tolerance, makes
    its smallest plan and says what took the budget and the least the call needs."""
    import types

    from prunelimit import distributed, library

    now = [0.0]

    def reading() -> float:
        now[0] += 0.01
        return now[0]

    monkeypatch.setattr(distributed, "time", types.SimpleNamespace(perf_counter=reading))
    load = library.settled_inputs

    def slow_load(*args, **kwargs):
        now[0] += 100.0
        return load(*args, **kwargs)

    monkeypatch.setattr(library, "settled_inputs", slow_load)
    found = prunelimit.spectrum(model, train, method="slq", tolerance=0.05, time_budget=50)
    assert found.stopped_by == "time-budget" and found.quadrature.runs * found.iterations == 1
    over = next(note for note in found.notes if note.startswith("the spectrum went"))
    assert re.search(r"s over time_budget=50 s \(100\.\d+ s, 100\.\d+ s of it before the spectrum\)", over)
    assert "loading the model and data took 100.0 s of it" in over and "needs about 101 s here" in over


class Output:
    """A Hugging Face-style output: the tensor the losses want sits in .logits."""

    def __init__(self, logits: torch.Tensor) -> None:
        self.logits = logits


class _WrapsOutput(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> Output:
        return Output(self.inner(x))


def test_an_output_object_is_named_with_its_article_and_logits_pointed_to(model, train):
    """It read "returns a Output" with nothing on where the tensor is; an object with .logits
    is pointed to it, and the article follows the type's name ("an Output", "a tuple")."""
    with pytest.raises(InputError, match=r"returns an Output, not one output tensor; return one tensor "
                                         r"\(its \.logits, say\) from forward"):
        prunelimit.bounds(_WrapsOutput(model), train)


class _Returns(torch.nn.Module):
    """``inner`` whose forward gives its logits inside ``shape`` (a dict or a tuple with more)."""

    def __init__(self, inner: torch.nn.Module, shape: str) -> None:
        super().__init__()
        self.inner, self.shape = inner, shape

    def forward(self, x: torch.Tensor):
        out = self.inner(x)
        return {"hidden": x, "logits": out} if self.shape == "dict" else (out, x)


# the code each refusal gives after model(x), as a user writes it in the wrapper's forward
_PICKED = {"['logits']": lambda out: out["logits"], "[0]": lambda out: out[0]}


class _Picks(torch.nn.Module):
    """The fix the refusal gives: a module whose forward returns ``model(x)`` + ``part``."""

    def __init__(self, model: torch.nn.Module, part: str) -> None:
        super().__init__()
        self.model, self.part = model, part

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _PICKED[self.part](self.model(x))


@pytest.mark.parametrize(("shape", "part"), [("dict", "['logits']"), ("tuple", "[0]")])
def test_a_dict_or_tuple_output_is_refused_with_a_wrapper_that_picks_the_tensor(model, train, shape, part):
    """A dict (``{'hidden', 'logits'}``) or tuple output was refused with "(a module wrapping
    the model can pick it)", naming neither which entry nor how: the message gives the code
    that picks it, and a module running that code gives the inner model's numbers."""
    returns = _Returns(model, shape)
    kind = "a dict" if shape == "dict" else "a tuple"
    with pytest.raises(InputError, match=rf"returns {kind}, not one output tensor; return one tensor \(its "
                                         rf"{re.escape(part)}, say\) from forward \(a module wrapping the model can "
                                         rf"pick it: its forward returns model\(x\){re.escape(part)}\)$"):
        prunelimit.bounds(returns, train, method="exact")
    assert prunelimit.bounds(_Picks(returns, part), train, method="exact").ratio == \
        prunelimit.bounds(model, train, method="exact").ratio


def test_info_on_a_model_in_memory_reads_as_the_command_on_a_pickled_module(model, tmp_path):
    """``info(model)``'s JSON ``format`` is ``module``, as ``prunelimit info`` writes it for a
    whole pickled module (docs/library.md); the command writes ``prunelimit`` for its own files."""
    from prunelimit.api.summary import info as info_of
    from prunelimit.inputs import load_inputs

    path = tmp_path / "whole.pt"
    torch.save(model, path)
    from_file = info_of(load_inputs(path, device="cpu", trust_pickle=True)).to_json()
    in_memory = prunelimit.info(model).to_json()
    assert in_memory["format"] == from_file["format"] == "module"
    assert {k: v for k, v in in_memory.items() if k != "checkpoint"} == \
        {k: v for k, v in from_file.items() if k != "checkpoint"}
