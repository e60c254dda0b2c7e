"""``gate --from``, ``verify --from`` and ``prune --from`` pay for the spectrum once: the
saved report's, and not one Hessian-vector product of their own (counted, not inferred
from the spectrum function alone: a product anywhere, a gradient graph kept for one, counts)."""

from __future__ import annotations

import json

import pytest

from prunelimit.curvature.hvp import HessianOperator

SAMPLES = ("--max-samples", 300)


@pytest.fixture
def products(monkeypatch) -> dict[str, int]:
    """Counts of Hessian operators made and of the products and second-order graphs they form."""
    counts = {"operators": 0, "matvec": 0, "matmat": 0, "graphs": 0}

    def counted(name, original):
        def wrapper(self, *args, **kwargs):
            if name != "graphs" or kwargs.get("create_graph", args[1] if len(args) > 1 else False):
                counts[name] += 1
            return original(self, *args, **kwargs)
        return wrapper

    for name, attr in (("operators", "__init__"), ("matvec", "matvec"), ("matmat", "matmat"),
                       ("graphs", "_batch_gradient")):
        monkeypatch.setattr(HessianOperator, attr, counted(name, getattr(HessianOperator, attr)))
    return counts


@pytest.mark.parametrize("command", [
    ("gate", "--min-ratio", "0.1"),
    ("gate", "--min-ratio", "0.1", "--use", "predicted"),
    ("gate", "--min-ratio", "0.1", "--use", "actual", "--baseline", "{verify}", "--max-drop", "0.5"),
    ("verify",),
    ("verify", "--refit", "--finetune-epochs", "1"),
    ("prune", "--ratio", "auto", "--output", "{out}"),
    ("prune", "--ratio", "lower", "--output", "{out}"),
])
def test_a_command_reading_the_prediction_computes_no_product(cli, own_ckpt, tmp_path, products, command):
    saved = tmp_path / "bounds.json"
    saved.write_text(cli("bounds", own_ckpt, *SAMPLES, "--no-cache", "--json").stdout, encoding="utf-8")
    verify = tmp_path / "verify.json"
    if "{verify}" in command:
        verify.write_text(cli("verify", own_ckpt, *SAMPLES, "--no-cache", "--json").stdout, encoding="utf-8")
    assert products["matvec"] + products["matmat"] > 0  # the counting sees the products bounds makes
    products.update(dict.fromkeys(products, 0))
    args = [a.format(verify=verify, out=tmp_path / "pruned.pt") for a in command]
    uses_prediction = "actual" not in command
    result = cli(args[0], own_ckpt, *args[1:], *SAMPLES, "--no-cache",
                 *(("--from", saved) if uses_prediction else ()), "--json")
    assert result.exit_code == 0, result.stderr
    assert products == {"operators": 0, "matvec": 0, "matmat": 0, "graphs": 0}
    if uses_prediction:
        assert json.loads(result.stdout).get("prediction_from", str(saved)) == str(saved)
