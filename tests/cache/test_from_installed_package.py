"""A saved prediction is refused for a model whose installed code differs: a ``--model`` from the user's own
package installed into site-packages (``pip install .``, not editable) runs its classes' code, which the report's
``weights.python`` holds by name alone, as all installed code; a reinstall whose forward scales only the gradient
(the loss on the data, the weights and the names the same) was read by ``gate --from`` and ``verify --from``, the
old ρ* (83.12 %, where the new code's is 53.11 %) gated on, where the result cache missed (it keys the package by
its installed files)."""

from __future__ import annotations

import importlib
import json
import sys

import pytest

from tests.conftest import install_distribution, report_read_back

# the package's model: an MLP whose gradient through its hidden layer is scaled by G (the forward is the same for any G)
NETS_PY = '''from torch import nn

G = {g}


class Scaled(nn.Sequential):
    def forward(self, x):
        h = self[1](self[0](x))
        return self[2](h * G + (h * (1 - G)).detach())


def make():
    return Scaled(nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10))
'''
MODULES = ("plfrominst", "plfrominst.nets")


@pytest.fixture
def installed(site_folder):
    """Install package ``plfrominst`` (distribution ``pl-from-inst``) at a version with ``G``; its modules are
    imported afresh after each install, and dropped after the test."""
    def install(version: str, g: str) -> None:
        install_distribution(site_folder, "plfrominst", "pl-from-inst", version,
                             {"__init__.py": "", "nets.py": NETS_PY.format(g=g)})
        for name in MODULES:
            sys.modules.pop(name, None)
        importlib.invalidate_caches()

    yield install
    for name in MODULES:
        sys.modules.pop(name, None)


@pytest.mark.parametrize("change", ["reinstalled under the same version", "another version"])
def test_a_report_of_the_models_installed_package_with_other_code_is_refused(cli, tmp_path, own_ckpt, installed,
                                                                              change):
    installed("1.0", "1.0")
    args = (own_ckpt, "--model", "plfrominst.nets:make", "--data", "digits:train", "--max-samples", 200)
    made, report = report_read_back(cli, tmp_path, *args)  # the same installed code reads its own report
    assert made["weights"]["packages"]
    # a report of an older prunelimit, which records none, is read as before, saying it cannot tell
    older = tmp_path / "older.json"
    older.write_text(json.dumps({**made, "weights": {k: v for k, v in made["weights"].items() if k != "packages"}}))
    read = json.loads(cli("gate", *args, "--from", older, "--min-ratio", 0, "--json").stdout)
    assert any("does not record its model's installed packages (an older report)" in w for w in read["warnings"])
    installed(*(("1.0", "0.2") if change == "reinstalled under the same version" else ("2.0", "1.0")))
    for command in (("gate", "--min-ratio", 0, "--use", "predicted"), ("verify",)):
        refused = cli(command[0], *args, "--from", report, *command[1:])
        assert refused.exit_code == 2, refused.stdout
        assert "the installed code the model or the loss runs differs" in refused.stderr
    if change == "reinstalled under the same version":  # the cache keys it alike: a miss, the new code's ρ*
        fresh = json.loads(cli("gate", *args, "--min-ratio", 0, "--json").stdout)
        assert not fresh["cache_hit"]
        assert abs(fresh["rules"][0]["measured"] - made["prediction"]["ratio"]) > 0.02
