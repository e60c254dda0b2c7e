"""A saved prediction is refused for a TorchScript archive whose modules run the variants of a
class the other way round from the one it was computed for (``weights.classes`` of a report):
two modules of one scripted class with their compiled-in gradient scales swapped read alike in
``weights.code``, which leaves TorchScript's class numbering out, and ``gate --from`` read
archive A's ρ* (95.09 %) for archive B (93.70 % computed there), their weights, code and loss
on the data all the same."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from tests.conftest import scaled_twice

ARGS = ("--trust-pickle", "--data", "digits:train", "--max-samples", 300)


@pytest.fixture(scope="module")
def swapped(tmp_path_factory):
    return scaled_twice(tmp_path_factory.mktemp("scaled"))


def _report(cli, ckpt, path) -> dict:
    result = cli("bounds", ckpt, *ARGS, "--json")
    assert result.exit_code == 0, result.stderr
    path.write_text(result.stdout)
    return json.loads(result.stdout)


def _gate(ckpt, report) -> tuple:
    return "gate", ckpt, *ARGS, "--from", report, "--min-ratio", 0, "--use", "predicted"


def test_a_report_of_the_archive_with_the_variants_swapped_is_refused(cli, swapped, tmp_path):
    one, two = swapped
    doc, other = _report(cli, one, tmp_path / "one.json"), _report(cli, two, tmp_path / "two.json")
    assert doc["weights"]["code"] == other["weights"]["code"]  # what read them alike
    assert doc["weights"]["fingerprint"] == other["weights"]["fingerprint"]
    assert doc["weights"]["classes"] != other["weights"]["classes"]
    assert doc["prediction"]["ratio"] != other["prediction"]["ratio"]
    report = tmp_path / "one.json"
    for command in (_gate(two, report), ("verify", two, *ARGS, "--from", report),
                    ("prune", two, *ARGS, "--from", report, "--ratio", "auto", "--output", tmp_path / "p.pt")):
        refused = cli(*command)
        assert refused.exit_code == 2, (command[0], refused.stdout)
        assert "was computed for another problem than this model: which variant of a TorchScript class or " \
               "function each module runs differs" in refused.stderr
    own = cli(*_gate(one, report), "--json")
    assert own.exit_code == 0, own.stderr
    assert json.loads(own.stdout)["bounds"]["prediction"]["ratio"] == doc["prediction"]["ratio"]


def test_an_older_report_is_read_with_a_warning_only_where_it_cannot_tell(cli, swapped, tmp_path):
    """A report of an older prunelimit (no ``weights.classes``) of an archive with two variants
    of one class cannot tell it from the one with them swapped: read, saying so and how to
    store a new one. One of an archive whose classes have one variant each, constants' values
    aside (two ``Linear`` sizes), is read in silence, as before: its ``weights.code`` tells."""
    one, _ = swapped
    doc = _report(cli, one, tmp_path / "one.json")
    del doc["weights"]["classes"]
    older = tmp_path / "older.json"
    older.write_text(json.dumps(doc))
    read = cli(*_gate(one, older))
    assert read.exit_code == 0, read.stderr
    told = " ".join(read.stdout.split())  # the console wraps the line at its width (80 columns under xdist in CI)
    assert "does not record which variant of a TorchScript class or function each module runs (an older report), " \
           "and this model holds two variants of one class or function" in told
    torch.manual_seed(0)
    plain = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(nn.Sequential(nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10))), plain)
    doc = _report(cli, plain, tmp_path / "plain.json")
    assert doc["weights"]["code"] is not None and doc["weights"]["classes"] is None
    del doc["weights"]["classes"]
    older.write_text(json.dumps(doc))
    read = cli(*_gate(plain, older))
    assert read.exit_code == 0, read.stderr
    assert "variant" not in read.stdout + read.stderr


def test_variants_are_told_by_their_methods_not_their_constants_declarations(swapped, tmp_path):
    """``archive_variants``: two ``Linear`` sizes (constants declared, their method one) are one
    variant; two strides of a ``Conv2d`` (compiled into its method) are two, the swap of which
    moves the forward."""
    from prunelimit.cache import archive_fingerprint, archive_variants

    one, two = swapped
    assert archive_fingerprint(one, code_only=True) == archive_fingerprint(two, code_only=True)
    assert archive_variants(one) is not None and archive_variants(two) is not None
    assert archive_variants(one) != archive_variants(two)
    for path, net, variants in ((tmp_path / "mlp.pt", nn.Sequential(nn.Linear(64, 4), nn.Linear(4, 10)), False),
                                (tmp_path / "cnn.pt", nn.Sequential(nn.Conv2d(3, 3, 3), nn.Conv2d(3, 3, 3, stride=2)),
                                 True)):
        torch.jit.save(torch.jit.script(net), path)
        assert (archive_variants(path) is not None) is variants
