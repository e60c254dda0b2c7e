"""A ``--model`` factory that builds a float16 model (``Net().half()``) reads a checkpoint as
the command line reads a float16 file into the float32 model its spec builds: computed in
float32, the data read in float32, what it writes stored back in float16. The factory's model
computed and recorded float16 (its data read in float16, another data fingerprint, a report
refused beside the spec's of the same file) and fine-tuned in float16 itself. The same code
runs on the same values (digits' pixels, k/16, are exact in float16): no tolerance."""

from __future__ import annotations

import json

import torch

from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.load import load_model

from tests.conftest import LIBRARY_SAMPLES as SAMPLES, SPEC, adam_fit

GIVEN = ("--data", "digits:train", "--max-samples", SAMPLES)


def _files(tmp_path, model, train):
    """The float16 checkpoint of the fitted model, and a factory file building it in float16."""
    adam_fit(model, *train, steps=60)
    path = tmp_path / "m.pt"
    save_checkpoint(path, SPEC, model.half().state_dict())
    (tmp_path / "nets.py").write_text(f"from prunelimit.models.spec import build_model\n\n\n"
                                      f"def half():\n    return build_model({SPEC!r}).half()\n")
    return path, f"{tmp_path / 'nets.py'}:half"


def test_a_float16_factorys_bounds_are_the_float16_files(cli, tmp_path, model, train):
    path, factory = _files(tmp_path, model, train)
    by_spec, by_factory = (cli("bounds", path, *GIVEN, *extra, "--json") for extra in ((), ("--model", factory)))
    assert by_spec.exit_code == by_factory.exit_code == 0, by_factory.output
    spec, built = json.loads(by_spec.stdout), json.loads(by_factory.stdout)
    assert built["weights"]["dtype"] == spec["weights"]["dtype"] == "float32"
    assert built["data"] == spec["data"]
    assert (built["prediction"]["ratio"], built["epsilon"]) == (spec["prediction"]["ratio"], spec["epsilon"])
    (tmp_path / "spec.json").write_text(by_spec.stdout)
    assert cli("verify", path, *GIVEN, "--model", factory, "--from", tmp_path / "spec.json").exit_code == 0


def test_a_float16_factorys_fine_tuned_pruning_is_the_float16_files(cli, tmp_path, model, train):
    path, factory = _files(tmp_path, model, train)
    for name, extra in (("spec.pt", ()), ("factory.pt", ("--model", factory))):
        result = cli("prune", path, *GIVEN, *extra, "--ratio", "0.5", "--finetune-epochs", 2, "-o", tmp_path / name)
        assert result.exit_code == 0, result.output
    spec, built = (load_model(tmp_path / name, SPEC).stored_state() for name in ("spec.pt", "factory.pt"))
    assert spec.keys() == built.keys()
    assert all(built[k].dtype == spec[k].dtype == torch.float16 and torch.equal(built[k], spec[k]) for k in spec)


def test_a_float16_factorys_hyperflux_is_the_float16_files(cli, tmp_path, model, train):
    """It trained in float16 itself: density 0.26 for 0.3 here, where the file's run ends at 0.94."""
    path, factory = _files(tmp_path, model, train)
    runs = {}
    for name, extra in (("spec", ()), ("factory", ("--model", factory))):
        result = cli("hyperflux", path, *GIVEN, *extra, "--target-density", 0.3, "--pruning-epochs", 3,
                     "--regrowth-epochs", 1, "--gate-lr", 0.05, "--json", "-o", tmp_path / f"{name}.pt")
        assert result.exit_code == 0, result.output
        runs[name] = json.loads(result.stdout)["density"]
    assert runs["factory"] == runs["spec"]
    spec, built = (load_model(tmp_path / f"{name}.pt", SPEC) for name in ("spec", "factory"))
    assert all(torch.equal(built.stored_state()[k], v) and v.dtype == torch.float16
               for k, v in spec.stored_state().items() if k in spec.dtypes)
    assert spec.masks.keys() == built.masks.keys() and all(torch.equal(spec.masks[k], built.masks[k]) for k in spec.masks)
