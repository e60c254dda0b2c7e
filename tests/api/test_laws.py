"""prunelimit.api.laws: Hyperflux, IMP and the Neural Pruning Law started from a checkpoint, pruned or not."""

from __future__ import annotations

import pytest
import torch

from prunelimit import api
from prunelimit.io.checkpoint import read_checkpoint, save_checkpoint
from prunelimit.laws.hyperflux import HyperfluxConfig
from prunelimit.laws.imp import ImpConfig
from prunelimit.models.spec import build_model
from tests.conftest import LIBRARY_SAMPLES, SPEC


@pytest.fixture
def head_kept(tmp_path):
    """A file pruned with --exclude 2: half of 0.weight masked, the head outside the set."""
    torch.manual_seed(0)
    model = build_model(SPEC)
    keep = torch.rand_like(model[0].weight) > 0.5
    with torch.no_grad():
        model[0].weight.mul_(keep)
    path = tmp_path / "pruned.pt"
    save_checkpoint(path, SPEC, model.state_dict(), {"0.weight": keep},
                    {"data": "digits:train", "pruned": {"include": [], "exclude": ["2"]}})
    return path


def _head_and_record(path):
    raw = read_checkpoint(path)
    return int((raw.state_dict["2.weight"] == 0).sum()), "2.weight" in raw.masks, raw.meta["pruned"].get("exclude")


def test_hyperflux_prunes_and_records_the_set_its_checkpoint_was_pruned_with(head_kept, tmp_path):
    # Before, it gated the default set: the excluded head was pruned and the file recorded no set
    out = tmp_path / "hf.pt"
    # one batch: 4 steps of gate_lr 0.1 let the gates fall the 0.26 that closing a fifth of them takes
    api.hyperflux(out, 0.4, HyperfluxConfig(pruning_epochs=4, regrowth_epochs=0, gate_lr=0.1), checkpoint=head_kept,
                  max_samples=128, device="cpu")
    assert _head_and_record(out) == (0, False, ["2"])


def test_imp_prunes_and_records_the_set_its_checkpoint_was_pruned_with(head_kept, tmp_path):
    out = tmp_path / "imp"
    api.imp(str(head_kept), out, ImpConfig(levels=1, epochs_per_level=1), max_samples=128, device="cpu")
    assert _head_and_record(out / "level_001.pt") == (0, False, ["2"])


# ------------------------------------------------------------------ pruned starts in every form

N = 64 * 12 + 12 * 10  # the prunable weights of SPEC
HALF = N // 2  # what --ratio 0.5 keeps


@pytest.fixture(scope="module")
def pruned_forms(tmp_path_factory):
    """SPEC pruned to half in each form a pruned file comes in: (path, --model it needs)."""
    from typer.testing import CliRunner

    from prunelimit.cli import app

    folder = tmp_path_factory.mktemp("forms")
    torch.manual_seed(0)
    save_checkpoint(folder / "own.pt", SPEC, build_model(SPEC).state_dict(), meta={"data": "digits:train"})

    def cli(*args):
        result = CliRunner().invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output

    prune = ("prune", folder / "own.pt", "--ratio", "0.5", "-o")
    cli(*prune, folder / "p.pt")
    cli(*prune, folder / "s.pt", "--format", "safetensors")  # no masks: its zeros and meta.pruned
    cli(*prune, folder / "t.pt", "--format", "torch-prune")
    cli("export", folder / "p.pt", "-o", folder / "e.safetensors")
    return {"prunelimit": (folder / "p.pt", None), "safetensors": (folder / "s.safetensors", SPEC),
            "torch-prune": (folder / "t.prune.pt", SPEC), "export": (folder / "e.safetensors", None)}


def _start_zeros(form) -> dict[str, torch.Tensor]:
    from prunelimit.models.load import load_model

    path, spec = form
    return {name: w == 0 for name, w in load_model(path, spec).model.state_dict().items() if name.endswith("weight")}


def _regrown(state: dict, zeros: dict) -> int:
    """Weights the start had pruned that are not zero in ``state``."""
    return sum(int((state[name][removed] != 0).sum()) for name, removed in zeros.items())


@pytest.mark.parametrize("form", ["prunelimit", "safetensors", "torch-prune", "export"])
def test_imp_from_a_pruned_file_starts_at_its_density_and_revives_none_of_its_pruned_weights(
        pruned_forms, form, tmp_path):
    """A pruned safetensors file (no masks) started IMP at density 1.0 and its dense level
    trained its pruned weights back; every form now starts at the file's density d0 and level
    k keeps d0·(1 − rate)^k (docs/guide.md)."""
    path, spec = pruned_forms[form]
    zeros = _start_zeros(pruned_forms[form])
    result = api.imp(str(path), tmp_path / "imp", ImpConfig(levels=2, rate=0.5, epochs_per_level=1, epochs_dense=1,
                                                            rewind="none"),
                     model=spec, data="digits:train", max_samples=128, device="cpu")
    assert [r.density for r in result.rows] == [HALF / N, HALF // 2 / N, HALF // 4 / N]
    for level in range(3):
        saved = read_checkpoint(tmp_path / "imp" / f"level_{level:03d}.pt")
        assert _regrown(saved.state_dict, zeros) == 0, level
        assert not any((saved.masks[name] & removed).any() for name, removed in zeros.items())


@pytest.mark.parametrize("form", ["prunelimit", "safetensors", "torch-prune", "export"])
def test_hyperflux_from_a_pruned_file_revives_none_of_its_pruned_weights(pruned_forms, form, tmp_path):
    """From a pruned safetensors file Hyperflux opened every gate: its first epoch logged
    density 1.0 and the saved file had weights back where the start had pruned them."""
    path, spec = pruned_forms[form]
    zeros = _start_zeros(pruned_forms[form])
    # one batch: 5 steps of gate_lr 0.1 let the gates fall the 0.32 that closing 40 % of them takes
    report = api.hyperflux(tmp_path / "hf.pt", 0.3, HyperfluxConfig(pruning_epochs=5, regrowth_epochs=2, gate_lr=0.1),
                           checkpoint=path, model=spec, data="digits:train", max_samples=128, device="cpu")
    assert max(e.density for e in report.log) <= HALF / N
    saved = read_checkpoint(tmp_path / "hf.pt")
    assert _regrown(saved.state_dict, zeros) == 0
    assert sum(int(m.sum()) for m in saved.masks.values() if m.shape != (12,) and m.shape != (10,)) \
        == round(report.density * N)


@pytest.mark.parametrize("mode", ["static", "iterative", "pressure"])
@pytest.mark.parametrize("form", ["prunelimit", "safetensors", "torch-prune", "export"])
def test_nplh_of_a_pruned_file_records_no_point_above_its_density_and_revives_nothing(pruned_forms, form, mode):
    """A pruned safetensors file's pruned weights counted as kept (gradient saliency: a static
    point at 0.73 of a file at 0.5), were revived by fine-tuning, and the pressure ladder
    opened their gates."""
    from prunelimit.inputs import load_inputs

    path, spec = pruned_forms[form]
    zeros = _start_zeros(pruned_forms[form])
    inputs = load_inputs(path, spec, "digits:train", max_samples=LIBRARY_SAMPLES, device="cpu")
    # a mode refuses the others' settings, the pressure ladder a metric (it ranks by no saliency)
    own = {"static": dict(metric="gradient"), "iterative": dict(metric="gradient", rate=0.3, finetune_steps=5),
           "pressure": dict(pressures=tuple(2.0 ** k for k in range(-6, 6)), epochs_per_level=2)}[mode]
    fit = api.nplh(inputs, mode=mode, region=(0.001, 1.0), **own)
    assert max(fit.points.density) <= HALF / N
    assert _regrown(inputs.model.state_dict(), zeros) == 0


@pytest.mark.parametrize("form", ["prunelimit", "safetensors", "torch-prune", "export"])
def test_a_sweep_that_leaves_out_a_layer_the_file_pruned_revives_none_of_that_layers_pruned_weights(
        pruned_forms, form, tmp_path):
    """The file pruned both layers; ``--exclude 2`` trains the head without pruning it. From a
    pruned safetensors file only the set in use held its zeros, so the head's pruned weights
    came back (82 of 124 on digits-mlp.pt after one dense epoch); a file's masks always held."""
    path, spec = pruned_forms[form]
    zeros = _start_zeros(pruned_forms[form])
    api.imp(str(path), tmp_path / "imp", ImpConfig(levels=1, rate=0.5, epochs_per_level=1, epochs_dense=1,
                                                   rewind="none"),
            model=spec, data="digits:train", max_samples=128, device="cpu", exclude=("2",))
    for level in range(2):
        assert _regrown(read_checkpoint(tmp_path / "imp" / f"level_{level:03d}.pt").state_dict, zeros) == 0, level


def test_hyperflux_to_a_density_above_the_files_is_refused_and_writes_nothing(pruned_forms, tmp_path):
    """The file keeps half its weights and none comes back: 0.7 cannot be reached."""
    from prunelimit.errors import UsageError

    path, spec = pruned_forms["safetensors"]
    with pytest.raises(UsageError, match=r"target_density 0\.7 is above the density 0\.5 the model starts at"):
        api.hyperflux(tmp_path / "hf.pt", 0.7, HyperfluxConfig(pruning_epochs=5), checkpoint=path, model=spec,
                      data="digits:train", max_samples=128, device="cpu", log=tmp_path / "hf.csv")
    assert list(tmp_path.iterdir()) == []


def test_resuming_a_sweep_an_older_version_began_from_a_pruned_safetensors_file_says_so(pruned_forms, tmp_path):
    """An older prunelimit took a pruned safetensors file's zeros for weights: its sweep's level 0
    is dense (density 1.0). Resuming it now, from the same file at density 0.5, was refused as a
    damaged file ("level 0 has density 1 ...; the file is damaged", exit 3); it is another start."""
    from prunelimit.errors import UsageError

    path, spec = pruned_forms["safetensors"]
    out = tmp_path / "imp"
    run = dict(model=spec, data="digits:train", max_samples=128, device="cpu")
    api.imp(str(path), out, ImpConfig(levels=0, rate=0.5, rewind="none"), **run)
    # the older version's files: level 0 recorded at density 1.0, in the CSV and the checkpoint
    (out / "imp.csv").write_text((out / "imp.csv").read_text().replace(f"\n0,{HALF / N!r},", "\n0,1.0,"))
    level = torch.load(out / "level_000.pt", weights_only=True)
    torch.save({**level, "density": 1.0}, out / "level_000.pt")
    with pytest.raises(UsageError, match=r"level 0 is dense \(density 1\), but this start is pruned \(it keeps "
                                         r"0\.5 of its prunable weights\): an older prunelimit wrote it") as info:
        api.imp(str(path), out, ImpConfig(levels=1, rate=0.5, rewind="none"), **run)
    assert "damaged" not in str(info.value)
