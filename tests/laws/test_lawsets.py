"""``imp`` and ``hyperflux`` take the prunable set (``--include``/``--exclude``) as every
other command: a module left out stays dense, the densities count the set, the files
they write record it, and the command line and the library give the same numbers."""

from __future__ import annotations

import copy
import csv
import json

import pytest
import torch

import prunelimit
from prunelimit.errors import UsageError
from tests.conftest import LIBRARY_SAMPLES

IMP = ("--levels", "2", "--rate", "0.5", "--epochs", "1", "--max-samples", str(LIBRARY_SAMPLES))
# one batch: 3 steps of --gate-lr 0.2 let the gates fall the 0.41 that closing 70 % of them takes
HYPERFLUX = ("--target-density", "0.3", "--pruning-epochs", "3", "--regrowth-epochs", "1", "--gate-lr", "0.2",
             "--max-samples", str(LIBRARY_SAMPLES))


def _saved(path):
    return torch.load(path, weights_only=False)


def test_imp_exclude_keeps_the_layer_dense_and_counts_the_set(cli, own_ckpt, tmp_path, model, train):
    out = tmp_path / "sweep"
    result = cli("imp", own_ckpt, "--exclude", "0", *IMP, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["prunable"] == 12 * 10  # the head alone: layer 0 (64 × 12) is out of the set
    dense = _saved(own_ckpt)["state_dict"]["0.weight"]
    for level in range(3):
        saved = _saved(out / f"level_{level:03d}.pt")
        assert set(saved["masks"]) == {"2.weight"}
        assert saved["meta"]["pruned"] == {"include": [], "exclude": ["0"]}
        assert bool((saved["state_dict"]["0.weight"] != 0).all())  # never pruned, at any level
    # epochs 1 trains layer 0 too, so it is not the file's any more, but it is dense
    assert not torch.equal(_saved(out / "level_002.pt")["state_dict"]["0.weight"], dense)
    with (out / "imp.csv").open() as fh:
        densities = [float(row["density"]) for row in csv.DictReader(fh)]
    assert densities == [1.0, 0.5, 0.25]  # of the 120 head weights: exact counts, no tolerance needed
    # a command reading a level counts the same N, without being told the set again
    info = cli("info", out / "level_002.pt", "--json")
    assert info.exit_code == 0, info.output
    assert json.loads(info.stdout)["params"]["prunable"] == 120
    # the library on the same model and data: the same rows (same seed, data order and arithmetic)
    sweep = prunelimit.imp(copy.deepcopy(model), train, exclude=("0",), levels=2, rate=0.5, epochs_per_level=1,
                           epochs_dense=0)
    assert [(r.density, r.error, r.loss) for r in sweep.rows] == [
        (r["density"], r["error"], r["loss"]) for r in body["rows"]]


def test_imp_resume_with_another_set_is_refused(cli, own_ckpt, tmp_path):
    out = tmp_path / "sweep"
    short = [a if a != "2" else "1" for a in IMP]  # one level, then resume to two
    assert cli("imp", own_ckpt, "--exclude", "0", *short, "-o", out).exit_code == 0
    for other in ([], ["--exclude", "2"]):
        result = cli("imp", own_ckpt, *other, *IMP, "-o", out)
        assert result.exit_code == 2, result.output
        assert "holds an IMP sweep of --exclude '0'" in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) <= 2
    # and the other way round: a sweep of the default set resumed with one
    plain = tmp_path / "plain"
    assert cli("imp", own_ckpt, *short, "-o", plain).exit_code == 0
    result = cli("imp", own_ckpt, "--exclude", "0", *IMP, "-o", plain)
    assert result.exit_code == 2 and "of the default prunable set" in result.output, result.output
    assert cli("imp", own_ckpt, "--exclude", "0", *IMP, "-o", out).exit_code == 0  # the same set resumes


def test_hyperflux_exclude_keeps_the_layer_dense_and_records_the_set(cli, own_ckpt, tmp_path, model, train):
    out = tmp_path / "hf.pt"
    result = cli("hyperflux", own_ckpt, "--exclude", "0", *HYPERFLUX, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    saved = _saved(out)
    assert set(saved["masks"]) == {"2.weight"}
    assert saved["meta"]["pruned"]["exclude"] == ["0"]
    assert bool((saved["state_dict"]["0.weight"] != 0).all())
    kept = int(saved["masks"]["2.weight"].sum())
    assert body["density"] == kept / 120  # the density of the set: the head's kept fraction, exactly
    info = cli("info", out, "--json")
    assert json.loads(info.stdout)["params"]["prunable"] == 120
    report = prunelimit.hyperflux(copy.deepcopy(model), train, 0.3, exclude=("0",), pruning_epochs=3,
                                  regrowth_epochs=1, gate_lr=0.2)
    assert report.density == body["density"] and report.to_json()["log"] == body["log"]
    assert set(report.masks) == {"2.weight"}


@pytest.mark.parametrize("command", [
    ("imp", "mlp:64,12,10", "--data", "digits:train", *IMP, "-o", "{tmp}/out"),
    ("hyperflux", "--model", "mlp:64,12,10", "--data", "digits:train", *HYPERFLUX, "-o", "{tmp}/out.pt"),
])
def test_an_include_matching_nothing_is_refused_before_any_work(cli, tmp_path, command):
    result = cli(*(a.format(tmp=tmp_path) for a in command), "--include", "nomatch")
    assert result.exit_code == 2, result.output
    assert "--include 'nomatch' matches no module" in result.output
    assert list(tmp_path.iterdir()) == []  # no half-written output


def test_the_set_is_read_from_a_config_file(cli, own_ckpt, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("exclude: ['0']\n")  # a top-level key, as bounds and prune read it
    out = tmp_path / "sweep"
    result = cli("imp", own_ckpt, *IMP, "-o", out, "--config", config, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["prunable"] == 120


def test_library_imp_resume_with_another_set_is_a_usage_error(model, train, tmp_path):
    """A sweep of a model ``Pruning.apply`` pruned with ``exclude`` (the set recorded on it)
    resumed on a plain model was called a damaged folder (an ``InputError``); it is another set."""
    settings = dict(rate=0.5, epochs_per_level=1, epochs_dense=0, out_dir=tmp_path)
    pruned = prunelimit.prune(model, 0.5, exclude=("0",)).apply(copy.deepcopy(model))
    prunelimit.imp(pruned, train, levels=1, **settings)
    # in the caller's words: the keyword it passed, not the command line's flag
    with pytest.raises(UsageError, match=r"holds an IMP sweep of exclude=\('0',\), not the default prunable set "
                       r"\(no include=/exclude=\); resume it with exclude=\('0',\)"):
        prunelimit.imp(copy.deepcopy(model), train, levels=2, **settings)


def test_the_library_records_the_set_on_the_model_it_pruned(model, train):
    """As ``Pruning.apply`` does and as the command line's files do: the next call on the
    model counts the set it was pruned within, without being told again."""
    pruned = copy.deepcopy(model)
    prunelimit.hyperflux(pruned, train, 0.5, exclude=("0",), pruning_epochs=3, regrowth_epochs=1, gate_lr=0.2)
    assert prunelimit.info(pruned).to_json()["params"]["prunable"] == 120
    swept = copy.deepcopy(model)
    prunelimit.imp(swept, train, exclude=("0",), levels=1, rate=0.5, epochs_per_level=0, epochs_dense=0)
    assert prunelimit.info(swept).to_json()["params"]["prunable"] == 120


@pytest.mark.parametrize("command", [
    ("imp", "{ckpt}", *IMP, "-o", "{tmp}/out"),
    ("hyperflux", "{ckpt}", *HYPERFLUX, "-o", "{tmp}/out.pt"),
])
def test_an_empty_set_names_the_flags_that_widen_it(cli, own_ckpt, tmp_path, command):
    result = cli(*(a.format(ckpt=own_ckpt, tmp=tmp_path) for a in command), "--exclude", "*")
    assert result.exit_code == 2, result.output
    assert "no prunable weights" in result.output and "--include/--exclude" in result.output, result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.pt").exists()


def test_hyperflux_report_apply_records_the_set_as_pruning_apply_does(model, train):
    """``Pruning.apply`` records the prunable set on the model it prunes; ``HyperfluxReport.apply``
    did not, so the next call on a model pruned with it counted both layers (N 888, not 120)."""
    report = prunelimit.hyperflux(copy.deepcopy(model), train, 0.5, exclude=("0",), pruning_epochs=3,
                                  regrowth_epochs=1, gate_lr=0.2)
    held = report.apply(copy.deepcopy(model))
    assert prunelimit.info(held).to_json()["params"]["prunable"] == 120


def test_imp_of_the_default_set_records_it_as_the_other_commands_do(cli, own_ckpt, tmp_path, model, train):
    """``prune`` and ``hyperflux`` record the set they pruned within, the default one too; an IMP
    sweep of the default set recorded none, in its levels or on the library's model."""
    out = tmp_path / "sweep"
    run = cli("imp", own_ckpt, *IMP, "-o", out, "--json")
    assert run.exit_code == 0 and json.loads(run.stdout)["prunable_set"] == {"include": [], "exclude": []}
    for level in range(3):
        assert _saved(out / f"level_{level:03d}.pt")["meta"]["pruned"] == {"include": [], "exclude": []}
    swept = copy.deepcopy(model)
    prunelimit.imp(swept, train, levels=1, rate=0.5, epochs_per_level=0, epochs_dense=0)
    from prunelimit.models.load import PRUNED_ATTRIBUTE

    assert getattr(swept, PRUNED_ATTRIBUTE) == {"include": [], "exclude": []}


def test_the_json_of_imp_and_hyperflux_names_the_set_they_pruned_within(cli, own_ckpt, tmp_path):
    for command, extra in (("imp", (*IMP, "-o", tmp_path / "sweep")), ("hyperflux", (*HYPERFLUX, "-o", tmp_path / "h.pt"))):
        run = cli(command, own_ckpt, "--exclude", "0", *extra, "--json")
        assert run.exit_code == 0, run.output
        assert json.loads(run.stdout)["prunable_set"] == {"include": [], "exclude": ["0"]}
