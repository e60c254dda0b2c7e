"""The training side of the library (``prunelimit.train``, ``hyperflux``, ``imp``, ``export``)
on in-memory objects: the command line's numbers on the same inputs, bit for bit (the same
code runs on the same weights, batches and seeds, so no tolerance is needed), pruned
weights that stay pruned, and the refusals."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from torch.nn.utils import prune as torch_prune

import prunelimit
from prunelimit import api
from prunelimit.errors import InputError, OptionError, UsageError
from prunelimit.io.checkpoint import read_checkpoint, save_checkpoint, state_and_masks
from prunelimit.laws.errorlaw import fit_error_law, read_points
from prunelimit.laws.hyperflux import HyperfluxConfig
from prunelimit.laws.imp import ImpConfig
from prunelimit.models.load import load_model
from prunelimit.models.spec import build_model

from tests.conftest import LIBRARY_SAMPLES as SAMPLES, SPEC
# 3 batches of 128: 9 steps of gate_lr 0.05 let the gates fall 0.45, past the 0.41 that closing 70 % takes
FAST_HYPERFLUX = dict(pruning_epochs=3, regrowth_epochs=1, gate_lr=0.05)


def _stdout_json(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_train_on_objects_is_the_command_lines_training_bit_for_bit(cli, model, train, tmp_path):
    """``prunelimit train`` seeds torch with --seed and builds the spec: the same start in
    memory, trained by the library with the same settings, ends on the same weights."""
    out = tmp_path / "t.pt"
    doc = _stdout_json(cli("train", "--model", SPEC, "--data", "digits:train", "--max-samples", SAMPLES,
                           "--epochs", 2, "--l1", 1e-3, "--schedule", "cosine", "-o", out, "--json"))
    result = prunelimit.train(model, train, epochs=2, l1=1e-3, schedule="cosine")
    assert _same_state(model.state_dict(), load_model(out).model.state_dict())
    body = result.to_json()
    assert {k: v for k, v in body.items() if k != "seconds"} == \
        {k: v for k, v in doc.items() if k not in ("schema", "output", "seconds")}
    assert [h["epoch"] for h in body["history"]] == [1, 2] and body["config"]["l1"] == 1e-3


def test_train_keeps_torch_pruning_and_given_masks_pruned(model, train):
    """A model pruned with ``Pruning.apply`` trains as the same model with ``masks=``: the
    pruned weights stay exactly zero, the torch pruning is back on the model afterwards
    (the same Parameter, so an optimiser holding it still does), and a mask given on top
    prunes further."""
    pruning = prunelimit.prune(model, 0.5)
    plain = copy.deepcopy(model)
    held = pruning.apply(copy.deepcopy(model))
    original = held[0].weight_orig
    prunelimit.train(held, train, epochs=2, l1=1e-3)
    prunelimit.train(plain, train, epochs=2, l1=1e-3, masks=pruning.masks)
    assert held[0].weight_orig is original and torch.equal(held[0].weight_mask.bool(), pruning.masks["0.weight"])
    for name, mask in pruning.masks.items():
        module = held.get_submodule(name.rpartition(".")[0])
        assert torch.equal(module.weight, plain.get_parameter(name))
        assert bool((module.weight[~mask] == 0).all())
    extra = {"2.weight": torch.zeros_like(model[2].weight, dtype=torch.bool)}  # prune the whole last layer
    prunelimit.train(held, train, epochs=1, masks=extra)
    assert bool((held[2].weight == 0).all()) and bool((held[0].weight[~pruning.masks["0.weight"]] == 0).all())


def test_a_tied_model_pruned_with_apply_trains_as_its_in_place_twin():
    """A weight shared by two layers: ``Pruning.apply`` prunes it in both (the second went
    on computing with the unpruned values), and ``train`` holds it as ``masks=`` holds it on
    the unpruned model (it refused the model: the second layer's mask named no parameter)."""
    from tests.pruning.test_masks import tied

    x, y = torch.randn(64, 6, generator=torch.Generator().manual_seed(0)), torch.arange(64) % 3
    pruning = prunelimit.prune(tied(3), 0.5)
    held, plain = pruning.apply(tied(3)), tied(3)
    assert torch.equal(held.b.weight, held.a.weight)
    prunelimit.train(held, (x, y), epochs=2, batch_size=16)
    prunelimit.train(plain, (x, y), epochs=2, batch_size=16, masks=pruning.masks)
    assert torch.equal(held.a.weight, plain.a.weight) and torch.equal(held.b.weight, plain.a.weight)
    assert torch.equal(held(x), plain(x)) and bool((held.b.weight[~pruning.masks["a.weight"]] == 0).all())


def test_train_leaves_modes_and_torchs_random_state_as_they_were(model, train):
    model.train()
    model[1].eval()
    state = torch.get_rng_state()
    prunelimit.train(model, train, epochs=1)
    assert model.training and not model[1].training and torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("call, error, message", [
    (lambda m, d: prunelimit.train(m, d, epoch=3), UsageError, "^unknown option 'epoch'; did you mean 'epochs'\\?$"),
    (lambda m, d: prunelimit.train(m, d, lr=-1), OptionError, "^lr must be a positive finite number, got -1"),
    (lambda m, d: prunelimit.train(m, d, epochs=0), OptionError, "^epochs must be at least 1, got 0"),
    (lambda m, d: prunelimit.train(m, d, milestones=(2,)), OptionError,
     "^milestones applies to schedule='step', not none; add schedule='step'$"),
    # a setting of another schedule was ignored in silence: t_max is the cosine's, gamma the step's
    (lambda m, d: prunelimit.train(m, d, t_max=5), OptionError,
     "^t_max applies to schedule='cosine', not none; add schedule='cosine'$"),
    (lambda m, d: prunelimit.train(m, d, gamma=0.5, schedule="cosine"), OptionError,
     "^gamma applies to schedule='step', not cosine; add schedule='step'$"),
    (lambda m, d: prunelimit.train(m, d, preset="gpt"), OptionError, "^preset='gpt': use fc5"),
    (lambda m, d: prunelimit.train(m, d, masks={"0.wieght": torch.ones(12, 64, dtype=torch.bool)}), UsageError,
     "^mask names \\['0.wieght'\\] are not parameters of the model"),
    (lambda m, d: prunelimit.train(m, d, masks=[True]), UsageError, "^masks must map parameter names to bool"),
    (lambda m, d: prunelimit.hyperflux(m, d, 0.5, pruning_epoch=3), UsageError,
     "^unknown option 'pruning_epoch'; did you mean 'pruning_epochs'\\?$"),
    (lambda m, d: prunelimit.hyperflux(m, d, 0.5, bogus=3), UsageError,
     "^unknown option 'bogus'; Hyperflux settings are"),
    (lambda m, d: prunelimit.hyperflux(m, d, 1.5), OptionError, "^density must lie in \\(0, 1\\), got 1.5"),
    # regrowth_epochs=0 runs no regrowth phase: its settings were ignored in silence
    (lambda m, d: prunelimit.hyperflux(m, d, 0.5, regrowth_epochs=0, regrowth_gate_decay=0.5), OptionError,
     "^regrowth_gate_decay applies to the regrowth phase, which regrowth_epochs=0 does not run; raise regrowth_epochs "
     "or drop it$"),
    (lambda m, d: prunelimit.imp(m, d, rewind_steps=5), OptionError,
     "^rewind_steps applies to rewind='early', not init; add rewind='early' or drop it$"),
    (lambda m, d: prunelimit.imp(m, d, rate=1.0), OptionError, "^rate must lie in \\(0, 1\\)"),
    # a value of the wrong kind is named too (they were TypeErrors, or a progress called after the work began)
    (lambda m, d: prunelimit.train(m, d, milestones=5, schedule="step"), OptionError,
     "^milestones must be a tuple of epochs such as \\(10, 20\\), got 5"),
    (lambda m, d: prunelimit.hyperflux(m, d, 0.5, gate_init=0.3), OptionError,
     "^gate_init must be \\(low, high\\) with low <= high, got 0.3"),
    (lambda m, d: prunelimit.hyperflux(m, d, 0.5, regrowth_headroom="0.9"), OptionError,
     "^regrowth_headroom must lie in \\(0, 1\\]"),
    (lambda m, d: prunelimit.train(m, d, progress=True), OptionError, "^progress must be a function or None"),
    (lambda m, d: prunelimit.imp(m, d, progress="rows"), OptionError, "^progress must be a function or None"),
    # numbers only, as every library function takes them (prune took the text "0.5")
    (lambda m, d: prunelimit.hyperflux(m, d, "0.5"), OptionError,
     "^density must lie in \\(0, 1\\), got '0.5', a str, not a number: write 0.5, without quotes$"),
    (lambda m, d: prunelimit.train(m, d, lr=True), OptionError, "^lr must be .*, got True, a bool, not a number$"),
    (lambda m, d: prunelimit.imp(m, d, levels="3"), OptionError,
     "^levels must be an integer, got '3', a str, not a number: write 3, without quotes$"),
    (lambda m, d: prunelimit.train(m, d, progress=lambda step: None), OptionError,
     r"^progress must take \(step, total\); it is called with 2 positional arguments, which progress\(step\) does not"),
    (lambda m, d: prunelimit.hyperflux(m, d, 0.5, progress=lambda: None), OptionError,
     r"^progress must take \(epoch, epochs\); it is called with 2"),
    (lambda m, d: prunelimit.imp(m, d, progress=lambda row, total: None), OptionError,
     r"^progress must take \(row\); it is called with 1 positional argument, which progress\(row, total\) does not"),
    (lambda m, d: prunelimit.imp(m, d, out_dir=3), OptionError, "^out_dir must be a path"),
    (lambda m, d: prunelimit.train(m.requires_grad_(False), d), UsageError,  # torch's empty parameter list
     "^the model has no trainable parameters: every one is frozen"),
    (lambda m, d: prunelimit.hyperflux(m.requires_grad_(False), d, 0.5), UsageError,
     "^the model has no trainable parameters"),
    # its error is 1 − accuracy: refused before level 0's training, not after it (it trained first)
    (lambda m, d: prunelimit.imp(m, (d[0], torch.nn.functional.one_hot(d[1], 10).float()), loss="mse"),
     UsageError, "^IMP error needs classification eval data"),
    # nor from one logit a sample (binary cross-entropy on 0/1 labels): no top-1 to take
    (lambda m, d: prunelimit.imp(torch.nn.Sequential(m, torch.nn.Linear(10, 1)), (d[0], d[1] % 2),
                                 loss=torch.nn.BCEWithLogitsLoss()),
     UsageError, "^IMP error needs .* and class scores from model\\(x\\)"),
])
def test_bad_settings_are_refused_before_any_work(model, train, call, error, message):
    """Each setting is checked by its config's own check (an ``OptionError`` naming it, the
    command line puts its flag there); an unknown name lists the known ones; the model is
    untouched."""
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(error, match=message):
        call(model, train)
    assert _same_state(model.state_dict(), before)


def test_hyperflux_on_objects_is_the_command_lines_run(model, train, tmp_path):
    """The file's model and the caller's run the same Hyperflux: the same masks, density,
    weights and report (its evaluation defaults to the training data on both sides)."""
    path, out = tmp_path / "m.pt", tmp_path / "hf.pt"
    save_checkpoint(path, SPEC, model.state_dict())
    from_file = api.hyperflux(out, 0.3, HyperfluxConfig(**FAST_HYPERFLUX), checkpoint=path, data="digits:train",
                              max_samples=SAMPLES)
    report = prunelimit.hyperflux(model, train, 0.3, **FAST_HYPERFLUX)
    # the same report; its warning names the keyword where the command line's names the flag
    # (it said "raise --pruning-epochs" to a caller of prunelimit.hyperflux)
    assert {**report.to_json(), "warnings": None} == {**from_file.to_json(), "warnings": None}
    assert [w.replace("pruning_epochs=", "--pruning-epochs").replace("eval_data=", "--eval-data")
            for w in report.warnings] == list(from_file.warnings)
    assert "raise pruning_epochs=" in report.warnings[0]
    saved = load_model(out)
    assert _same_state(report.masks, saved.masks) and _same_state(model.state_dict(), saved.model.state_dict())
    assert report.density == sum(int(m.sum()) for m in report.masks.values()) / sum(
        m.numel() for m in report.masks.values())


def test_hyperflux_keeps_a_pruned_model_pruned(model, train, tmp_path):
    """A pruned weight's gate starts closed and the weight is held at zero: Hyperflux on a
    pruned model (a checkpoint with masks, or a model pruned with torch) never brings it
    back (it revived 444 of 600 pruned weights: every gate started open)."""
    pruning = prunelimit.prune(model, 0.5)
    path, out = tmp_path / "pruned.pt", tmp_path / "hf.pt"
    pruned = pruning.apply(copy.deepcopy(model))
    bias = torch.arange(12) % 2 == 0
    torch_prune.custom_from_mask(pruned[0], "bias", bias)  # a tensor Hyperflux does not gate keeps its mask too
    torch.save(pruned.state_dict(), path)
    api.hyperflux(out, 0.4, HyperfluxConfig(**FAST_HYPERFLUX), checkpoint=path, model=SPEC, data="digits:train",
                  max_samples=SAMPLES)
    report = prunelimit.hyperflux(pruned, train, 0.4, **FAST_HYPERFLUX)
    for masks in (load_model(out).masks, report.masks):
        assert not any(bool((masks[n] & ~pruning.masks[n]).any()) for n in pruning.masks)
    assert _same_state(report.masks, load_model(out).masks) and torch.equal(report.masks["0.bias"], bias)
    assert torch.equal(pruned[0].weight_mask.bool(), report.masks["0.weight"])  # its torch pruning: the new masks
    assert torch.equal(pruned[0].bias_mask.bool(), bias) and bool((pruned[0].bias[~bias] == 0).all())


def test_imp_on_objects_gives_the_command_lines_rows_and_files(model, train, tmp_path):
    """Rows, CSV and the error law's fit are the command line's; without ``out_dir`` no file
    is written, with it the run resumes there."""
    path = tmp_path / "m.pt"
    save_checkpoint(path, SPEC, model.state_dict())
    settings = dict(levels=5, rate=0.5, epochs_per_level=1)
    from_file = api.imp(str(path), tmp_path / "cli", ImpConfig(**settings), data="digits:train",
                        max_samples=SAMPLES)
    in_memory = prunelimit.imp(copy.deepcopy(model), train, epochs_dense=0, **settings)  # a checkpoint: trained
    assert in_memory.rows == from_file.rows and in_memory.csv_path is None
    # both evaluate on the training data and say so, each naming the option as its reader knows it
    assert {**in_memory.to_json(), "warnings": None} == {**from_file.to_json(), "csv": None, "warnings": None}
    assert [w.rsplit(" ", 1)[-1] for w in (*in_memory.warnings, *from_file.warnings)] == ["eval_data=", "--eval-data"]
    assert fit_error_law(in_memory.points()).to_json() == fit_error_law(read_points(from_file.csv_path)).to_json()
    written = prunelimit.imp(copy.deepcopy(model), train, out_dir=tmp_path / "lib", epochs_dense=0, **settings)
    assert written.csv_path.read_text() == from_file.csv_path.read_text()
    again = prunelimit.imp(copy.deepcopy(model), train, out_dir=tmp_path / "lib", epochs_dense=0, **settings)
    assert again.resumed_after == 5 and again.rows == written.rows


def test_imp_keeps_a_torch_pruned_model_pruned(model, train, tmp_path):
    """Its masks start the sweep (level 0 at their density) and only shrink; a pruned tensor
    IMP does not rank (a bias) is held as given, where it trained back. The command line
    reads the model saved the same way."""
    pruning = prunelimit.prune(model, 0.5)
    pruned = pruning.apply(copy.deepcopy(model))
    bias = torch.arange(12) % 2 == 0
    torch_prune.custom_from_mask(pruned[0], "bias", bias)
    path = tmp_path / "pruned.pt"
    torch.save(pruned.state_dict(), path)
    settings = dict(levels=1, rate=0.5, epochs_per_level=1)
    from_file = api.imp(str(path), tmp_path / "cli", ImpConfig(**settings), model=SPEC, data="digits:train",
                        max_samples=SAMPLES)
    result = prunelimit.imp(pruned, train, epochs_dense=0, **settings)
    assert [row.density for row in result.rows] == [0.5, 0.25] and result.rows == from_file.rows
    assert torch.equal(pruned[0].weight_mask.bool(), result.masks["0.weight"])
    assert not bool((result.masks["0.weight"] & ~pruning.masks["0.weight"]).any())
    assert torch.equal(pruned[0].bias_mask.bool(), bias) and bool((pruned[0].bias[~bias] == 0).all())
    level = torch.load(tmp_path / "cli" / "level_001.pt", weights_only=True)
    assert torch.equal(level["masks"]["0.bias"], bias) and bool((level["state_dict"]["0.bias"][~bias] == 0).all())


def test_export_of_a_model_is_the_command_lines_file_byte_for_byte(cli, model, tmp_path):
    """A model pruned with ``Pruning.apply`` exports the effective weights under the plain
    names, the bytes ``prunelimit export`` writes for the same model saved to a file with
    the ``meta.pruned`` ``prune -o`` records (``Pruning.recorded``: the header keeps the
    prunable set); and ``masks=`` on a plain model is the prunelimit checkpoint with those masks."""
    pruning = prunelimit.prune(model, 0.8)
    pruned = pruning.apply(copy.deepcopy(model))
    saved = tmp_path / "torch-prune.pt"
    save_checkpoint(saved, SPEC, pruned.state_dict(), meta={"pruned": pruning.recorded})
    report = prunelimit.export(pruned, tmp_path / "lib.safetensors", model_spec=SPEC)
    doc = _stdout_json(cli("export", saved, "-o", tmp_path / "cli.safetensors", "--json"))
    assert (tmp_path / "lib.safetensors").read_bytes() == (tmp_path / "cli.safetensors").read_bytes()
    assert report.file_bytes == (tmp_path / "lib.safetensors").stat().st_size  # measured on the content
    assert {**report.to_json(), "checkpoint": str(saved), "output": doc["output"]} == \
        {k: v for k, v in doc.items() if k != "schema"}
    back = prunelimit.load_sparse(tmp_path / "lib.safetensors")
    effective = {k: v for k, v in pruned.state_dict().items() if not k.endswith(("_orig", "_mask"))}
    effective.update({name: pruned.get_submodule(name.rpartition(".")[0]).weight for name in pruning.masks})
    assert _same_state(back, {k: effective[k] for k in back}) and back.keys() == model.state_dict().keys()

    checkpoint = tmp_path / "pruned.pt"
    plain = copy.deepcopy(model)
    with torch.no_grad():
        for name, mask in pruning.masks.items():
            plain.get_parameter(name).masked_fill_(~mask, 0.0)
    save_checkpoint(checkpoint, SPEC, plain.state_dict(), pruning.masks)
    api.export(checkpoint, tmp_path / "ckpt.safetensors")
    prunelimit.export(model, tmp_path / "masks.safetensors", masks=pruning.masks, model_spec=SPEC)
    assert (tmp_path / "masks.safetensors").read_bytes() == (tmp_path / "ckpt.safetensors").read_bytes()
    assert _same_state(model.state_dict(), copy.deepcopy(model).state_dict())


def test_the_same_pruned_model_gives_the_same_weights_and_file_whoever_zeroed_it(model, tmp_path):
    """``p * mask`` (hyperflux and imp files, ``torch.nn.utils.prune``) leaves −0.0 where
    ``prune`` writes +0.0: the same pruned model read back with other sign bits, another
    weights fingerprint (so ``verify --from`` refused a report of the same model), and an
    export that stored a −0.0 pattern, larger and other bytes than the ``masks=`` export.
    Every reader now sees +0.0 at a pruned position, so all of them agree."""
    from prunelimit.cache import weights_fingerprint

    def sign_bits(state):  # float32 raw bits: +0.0 and −0.0 differ here, not under torch.equal
        return {k: v.view(torch.int32) if v.dtype == torch.float32 else v for k, v in state.items()}

    masks = prunelimit.prune(model, 0.8).masks
    plain, product = copy.deepcopy(model), copy.deepcopy(model)
    with torch.no_grad():
        for name, mask in masks.items():
            plain.get_parameter(name).masked_fill_(~mask, 0.0)
            product.get_parameter(name).mul_(mask)
    assert any(bool(torch.signbit(product.get_parameter(n))[~m].any()) for n, m in masks.items())  # −0.0 there
    files = {}
    for name, pruned in (("plain", plain), ("product", product)):
        save_checkpoint(tmp_path / f"{name}.pt", SPEC, pruned.state_dict(), masks)
        files[name] = api.export(tmp_path / f"{name}.pt", tmp_path / f"{name}.safetensors")
    torch_pruned = prunelimit.prune(model, 0.8).apply(copy.deepcopy(model))
    files["torch"] = prunelimit.export(torch_pruned, tmp_path / "torch.safetensors")
    files["masks"] = prunelimit.export(model, tmp_path / "masks.safetensors", masks=masks, model_spec=SPEC)
    expected = sign_bits(plain.state_dict())
    for name, report in files.items():
        assert all(t.negzero is None for t in report.tensors), name
        back = sign_bits(prunelimit.load_sparse(report.output))
        assert back.keys() == expected.keys() and all(torch.equal(back[k], expected[k]) for k in back), name
    # the checkpoint route and masks= give the same bytes; torch's state dict lists weight
    # after bias (its pruning re-registers the weight), which only reorders the header
    assert {Path(files[n].output).read_bytes() for n in ("plain", "product", "masks")} == \
        {(tmp_path / "plain.safetensors").read_bytes()}
    fingerprints = {weights_fingerprint(load_model(tmp_path / f"{n}.pt").model) for n in ("plain", "product")}
    assert len(fingerprints) == 1


def test_export_refuses_what_it_cannot_write(model, tmp_path):
    with pytest.raises(UsageError, match="^the model holds no pruning masks; prune it first"):
        prunelimit.export(model, tmp_path / "m.safetensors")
    masks = prunelimit.prune(model, 0.5).masks
    with pytest.raises(UsageError, match="^output .*m.pt: end the name in .safetensors"):
        prunelimit.export(model, tmp_path / "m.pt", masks=masks)
    with pytest.raises(UsageError, match="^masks: '0.wieght' names no tensor of the model"):
        prunelimit.export(model, tmp_path / "m.safetensors", masks={"0.wieght": masks["0.weight"]})
    torch_pruned = {**{k: v for k, v in model.state_dict().items() if k != "0.weight"},
                    "0.weight_orig": model[0].weight.detach(), "0.weight_mask": torch.ones(3, 3)}
    with pytest.raises(UsageError, match=r"^model: its torch.nn.utils.prune mask 0.weight_mask has shape \(3, 3\), "
                                         "not that of 0.weight_orig"):  # was torch's RuntimeError
        prunelimit.export(torch_pruned, tmp_path / "m.safetensors")
    (tmp_path / "folder.safetensors").mkdir()
    for force in (False, True):  # "already exists; pass force=True" named a fix that then failed
        with pytest.raises(UsageError, match="folder.safetensors: it is a folder; name a file inside it$"):
            prunelimit.export(model, tmp_path / "folder.safetensors", masks=masks, force=force)
    prunelimit.export(model, tmp_path / "m.safetensors", masks=masks)
    written = (tmp_path / "m.safetensors").read_bytes()
    with pytest.raises(UsageError, match="m.safetensors already exists; pass force=True to replace it$"):
        prunelimit.export(model, tmp_path / "m.safetensors", masks=masks)
    # a value of the wrong kind: force="no" replaced the file (a truthy string), the others were TypeErrors
    for wrong, error, message in [(dict(force="no"), OptionError, "^force must be True or False, got 'no'"),
                                  (dict(model_spec=3), UsageError, "^model_spec must be a model spec string"),
                                  (dict(meta=["x"]), UsageError, "^meta must be a mapping")]:
        with pytest.raises(error, match=message):
            prunelimit.export(model, tmp_path / "m.safetensors", masks={"0.weight": ~masks["0.weight"]}, **wrong)
        assert (tmp_path / "m.safetensors").read_bytes() == written
    with pytest.raises(OptionError, match="^output must be a path"):
        prunelimit.export(model, 3, masks=masks)
    prunelimit.export(model, tmp_path / "m.safetensors", masks=masks, force=True)
    assert not list(tmp_path.glob("m.pt*"))


def test_export_writes_the_models_names_for_a_wrapped_checkpoint(model, tmp_path):
    """A LightningModule saves its network under its attribute (``model.0.weight``); the
    loader strips that prefix when the rest are the model's keys, and so does the export
    now (the file kept it, and loaded into nothing without renaming)."""
    pruning = prunelimit.prune(model, 0.5)
    state = {"model." + k: v for k, v in model.state_dict().items()}
    path = tmp_path / "lightning.pt"
    save_checkpoint(path, SPEC, state, {"model." + k: v for k, v in pruning.masks.items()})
    api.export(path, tmp_path / "out.safetensors")
    fresh = build_model(SPEC)
    fresh.load_state_dict(prunelimit.load_sparse(tmp_path / "out.safetensors"))
    raw = read_checkpoint(tmp_path / "out.safetensors")
    assert sorted(state_and_masks(raw)[1]) == sorted(pruning.masks)


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod."])
def test_export_of_a_wrappers_state_dict_takes_masks_keyed_as_it_is(model, tmp_path, prefix):
    """A ``DataParallel`` or compiled model's ``state_dict()`` is read with its prefix stripped,
    but masks keyed as that state dict keys them were refused ("'module.0.weight' names no
    tensor of the model"): they are read with the same prefix stripped, the file the module's."""
    masks = prunelimit.prune(model, 0.5).masks
    plain = prunelimit.export(model.state_dict(), tmp_path / "plain.safetensors", masks=masks)
    wrapped = prunelimit.export({prefix + k: v for k, v in model.state_dict().items()}, tmp_path / "wrapped.safetensors",
                                masks={prefix + k: v for k, v in masks.items()})
    assert (tmp_path / "plain.safetensors").read_bytes() == (tmp_path / "wrapped.safetensors").read_bytes()
    assert wrapped.file_bytes == plain.file_bytes


def test_torch_pruning_of_other_tensors_comes_back(model, train):
    """A bias pruned with torch is held too, and given back with its own mask."""
    torch_prune.custom_from_mask(model[0], "bias", torch.arange(12) % 2 == 0)
    prunelimit.train(model, train, epochs=1)
    assert torch.equal(model[0].bias_mask.bool(), torch.arange(12) % 2 == 0)
    assert bool((model[0].bias[1::2] == 0).all())


def test_prunelimit_export_stays_the_function_once_the_sparse_package_is_loaded():
    """A subpackage ``prunelimit.export`` (the package's old name) became the attribute
    ``prunelimit.export`` on import, shadowing the function: ``load_sparse`` imports it."""
    import importlib

    importlib.import_module("prunelimit.sparse.exporter")
    prunelimit.load_sparse  # noqa: B018 (its module loads the sparse package)
    assert callable(prunelimit.export) and prunelimit.export.__module__ == "prunelimit.library_training"


def _pruning_form(model: torch.nn.Module) -> list:
    """Each module's pre-hooks in order (the pruning method objects themselves) and its mask
    buffers (the tensor objects), as a caller holding them sees them."""
    return [(name, list(m._forward_pre_hooks.items()), [(k, id(b)) for k, b in m._buffers.items()])
            for name, m in model.named_modules()]


def test_a_model_pruned_with_torch_keeps_its_pruning_objects(model, train):
    """torch's own pruning (``l1_unstructured`` twice: a ``PruningContainer`` holding the
    history; ``ln_structured``) and a hook of the caller's after it: an analysis leaves the
    same method objects, in the same order, and the same mask buffers (it replaced them
    with a ``CustomFromMask`` put last and new tensors); a run that prunes further
    writes its masks into those buffers, and the method still prunes on."""
    torch_prune.l1_unstructured(model[0], "weight", 0.3)
    torch_prune.l1_unstructured(model[0], "weight", 0.3)
    torch_prune.ln_structured(model[2], "weight", 0.2, 2, dim=0)
    seen = []
    model[0].register_forward_pre_hook(lambda module, args: seen.append(bool((module.weight == 0).any())))
    form = _pruning_form(model)
    prunelimit.bounds(model, train)
    prunelimit.prune(model, 0.5)
    assert _pruning_form(model) == form
    assert isinstance(model[0]._forward_pre_hooks[next(iter(model[0]._forward_pre_hooks))],
                      torch_prune.PruningContainer)
    report = prunelimit.hyperflux(model, train, 0.3, **FAST_HYPERFLUX)
    assert _pruning_form(model) == form
    assert torch.equal(model[0].weight_mask.bool(), report.masks["0.weight"])
    seen.clear()
    model(train[0][:4])
    assert seen == [True]  # the caller's hook still runs after the pruning one, on the pruned weight
    torch_prune.l1_unstructured(model[0], "weight", 0.5)  # torch prunes on from the run's mask
    assert not bool((model[0].weight_mask.bool() & ~report.masks["0.weight"]).any())


def test_masks_applied_to_another_model_are_refused_naming_the_tensor(model, train):
    """``Pruning.apply`` and ``HyperfluxReport.apply`` on a model the masks do not fit: a
    ``UsageError`` naming the tensor, and nothing applied (torch's AssertionError came after
    the tensors before it were pruned)."""
    narrow = torch.nn.Sequential(torch.nn.Linear(64, 12), torch.nn.ReLU(), torch.nn.Linear(12, 3))
    report = prunelimit.hyperflux(copy.deepcopy(model), train, 0.5, **FAST_HYPERFLUX)
    for masks in (prunelimit.prune(model, 0.5), report):
        with pytest.raises(UsageError, match=r"^the mask for 2.weight of shape \(10, 12\) fits no tensor of this "
                                             r"model \(it is of shape \(3, 12\)\)"):
            masks.apply(narrow)
        assert not any(hasattr(m, "weight_mask") for m in narrow)
    with pytest.raises(UsageError, match="^apply takes a torch.nn.Module, got OrderedDict"):
        report.apply(model.state_dict())


@pytest.mark.parametrize("run", ["hyperflux", "imp"])
def test_a_model_pruned_by_apply_trains_and_prunes_the_set_it_was_pruned_with(model, train, run):
    """``hyperflux`` and ``imp`` on a model ``prune(exclude=...).apply`` pruned rank and prune
    the set recorded on it, as the commands prune the set a pruned file records (they pruned
    the default set: the excluded layer too)."""
    pruned = prunelimit.prune(model, 0.5, exclude=("2",)).apply(copy.deepcopy(model))
    before = pruned[2].weight.detach().clone()
    if run == "hyperflux":
        result = prunelimit.hyperflux(pruned, train, 0.3, pruning_epochs=4, regrowth_epochs=0, gate_lr=0.05)
    else:
        result = prunelimit.imp(pruned, train, levels=1, rate=0.5, epochs_per_level=1, epochs_dense=0)
    assert sorted(result.masks) == ["0.weight"]
    assert int((pruned[2].weight == 0).sum()) == int((before == 0).sum())  # trained, never pruned


@pytest.mark.parametrize("run", ["hyperflux", "imp"])
def test_a_model_whose_torch_pruning_was_removed_stays_pruned(model, train, run):
    """``Pruning.apply`` then ``torch.nn.utils.prune.remove``: zeros and the record, no masks,
    the library's pruned safetensors file. ``prunelimit.prune`` held its zeros; Hyperflux
    opened their gates (323 of 444 came back in 5 + 1 epochs on 300 digits) and IMP's level 0 was at density 1.0 and trained them."""
    pruning = prunelimit.prune(model, 0.5)
    pruned = pruning.apply(copy.deepcopy(model))
    for index in (0, 2):
        torch_prune.remove(pruned[index], "weight")
    if run == "hyperflux":
        result = prunelimit.hyperflux(pruned, train, 0.3, pruning_epochs=4, regrowth_epochs=1, gate_lr=0.05)
        assert max(epoch.density for epoch in result.log) <= 0.5
    else:
        result = prunelimit.imp(pruned, train, levels=1, rate=0.5, epochs_per_level=1, epochs_dense=1, rewind="none")
        assert [row.density for row in result.rows] == [0.5, 0.25]
    for index, name in ((0, "0.weight"), (2, "2.weight")):
        assert not bool((result.masks[name] & ~pruning.masks[name]).any())
        assert bool((pruned[index].weight[~pruning.masks[name]] == 0).all())


def test_hyperflux_to_a_density_above_a_pruned_models_names_the_density_argument(model, train):
    """The refusal named ``target_density``, the command's field, not this function's ``density``."""
    pruned = prunelimit.prune(model, 0.5).apply(copy.deepcopy(model))
    before = pruned[0].weight.detach().clone()
    with pytest.raises(OptionError, match=r"^density=0\.7 is above the density 0\.5 the model starts at"):
        prunelimit.hyperflux(pruned, train, 0.7, pruning_epochs=5)
    assert torch.equal(pruned[0].weight, before) and hasattr(pruned[0], "weight_mask")


def test_hyperflux_whose_gates_cannot_close_names_the_density_argument(model, train, cli, tmp_path):
    """The steps-too-few refusal named the command's ``target_density=0.5`` beside this
    function's own keywords; the command line's names ``--target-density 0.5`` still."""
    with pytest.raises(OptionError, match=r"^pruning_epochs=3 × 3 batches = 9 gate steps at gate_lr=0\.01 .*, and "
                                          r"density=0\.5 closes 50 % of the open gates") as refused:
        prunelimit.hyperflux(copy.deepcopy(model), train, 0.5, pruning_epochs=3, regrowth_epochs=0)
    assert refused.value.option == "pruning_epochs" and "target_density" not in str(refused.value)
    from prunelimit.io.checkpoint import save_checkpoint

    from tests.conftest import LIBRARY_SAMPLES, SPEC

    save_checkpoint(tmp_path / "m.pt", SPEC, model.state_dict())
    result = cli("hyperflux", tmp_path / "m.pt", "--data", "digits:train", "--max-samples", LIBRARY_SAMPLES,
                 "--target-density", "0.5", "--pruning-epochs", "3", "--regrowth-epochs", "0", "-o", tmp_path / "h.pt")
    assert result.exit_code == 2 and "and --target-density 0.5 closes 50 % of the open gates" in result.stderr


_TRAINING = {
    "train": lambda m, d, **k: prunelimit.train(m, d, epochs=1, **k),
    "hyperflux": lambda m, d, **k: prunelimit.hyperflux(m, d, 0.5, **FAST_HYPERFLUX, **k),
    "imp": lambda m, d, **k: prunelimit.imp(m, d, levels=1, epochs_per_level=1, **k),
}


def _stop(*_: object) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize("name", _TRAINING)
def test_training_gives_back_each_modules_mode_and_moves_batchnorm_statistics_as_torch_does(train, name):
    """Training runs the model in train mode, so a BatchNorm the caller had put in eval mode
    has its running statistics updated, as ``model.train()`` then an optimiser's steps would
    (documented); afterwards, and after an interrupted run, every module has the caller's mode."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                              torch.nn.Linear(16, 10))
    net[1].eval()  # a frozen BatchNorm in a model being trained
    modes = [m.training for m in net.modules()]
    statistics = net[1].running_mean.clone()
    _TRAINING[name](net, train)
    assert [m.training for m in net.modules()] == modes
    assert not torch.equal(net[1].running_mean, statistics)
    with pytest.raises(KeyboardInterrupt):
        _TRAINING[name](net, train, progress=_stop)
    assert [m.training for m in net.modules()] == modes


class _AuxiliaryHead(torch.nn.Module):
    """Auxiliary logits in training mode only, as Inception-style classifiers give them."""

    def __init__(self) -> None:
        super().__init__()
        self.body, self.norm = torch.nn.Linear(64, 12), torch.nn.BatchNorm1d(12)
        self.head, self.aux = torch.nn.Linear(12, 10), torch.nn.Linear(12, 10)

    def forward(self, x: torch.Tensor):
        h = torch.relu(self.norm(self.body(x)))
        return (self.head(h), self.aux(h)) if self.training else self.head(h)


@pytest.mark.parametrize("call", [
    lambda m, d: prunelimit.train(m, d, epochs=1),
    lambda m, d: prunelimit.hyperflux(m, d, 0.5, **FAST_HYPERFLUX),
    lambda m, d: prunelimit.imp(m, d, levels=1, epochs_per_level=1),
    lambda m, d: prunelimit.nplh(m, d, mode="iterative"),
    lambda m, d: prunelimit.verify(m, d, method="exact", refit=True, finetune_epochs=1),
])
def test_a_model_with_another_output_in_training_mode_is_refused_before_training(train, call):
    """The data check runs the model in eval mode, where it gives one tensor: the runs that
    train failed on their first step with torch's ``TypeError: cross_entropy_loss():
    argument 'input' (position 1) must be Tensor, not tuple``. Refused before any step, the
    model as it was (its BatchNorm statistics, its mode); analyses in eval mode still run."""
    torch.manual_seed(0)
    model = _AuxiliaryHead()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(InputError, match=r"^the model returns a tuple in training mode \(model\.train\(\)\), not one "
                                         r"output tensor.*return one tensor from forward in both modes"):
        call(model, train)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items()) and model.training
    assert 0 < prunelimit.bounds(model, train, method="exact").ratio < 1
