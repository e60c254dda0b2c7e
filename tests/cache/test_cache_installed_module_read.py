"""The user's model reading an installed package through the module (``plkeyinst.nets.SCALE``,
``pkg.act(x)``), not a class or function of it the key meets: the package counts by its
distribution (its RECORD), so a ``pip install .`` of edited code under the same version is another
key. Before, only the packages of the classes and functions met were keyed: a reinstalled package
whose ``act`` doubled only where gradients are taken (so the loss witness stayed) served the old
ρ* 0.6072 from the cache where a fresh run gives 0.5362."""
import importlib
import sys

import torch

import prunelimit
from prunelimit.api import CurvatureOptions
from prunelimit.cache import input_key, split_key
from tests.cache.test_cache import _install


class _ReadsInstalled(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(8, 4), torch.nn.Linear(4, 4)

    def forward(self, x):
        return self.b(self.a(x) * plkeyinst.nets.SCALE)  # noqa: F821 - imported by the test


def test_a_package_read_through_its_module_is_keyed_by_its_distribution(site_folder, monkeypatch):
    def install(scale: str) -> None:
        _install(site_folder, "1.0", scale)
        for name in ("plkeyinst", "plkeyinst.nets"):
            monkeypatch.delitem(sys.modules, name, raising=False)
        importlib.invalidate_caches()
        importlib.import_module("plkeyinst.nets")
        monkeypatch.setitem(globals(), "plkeyinst", sys.modules["plkeyinst"])

    install("1.0")
    torch.manual_seed(0)
    inputs = prunelimit.inputs_from(_ReadsInstalled(), (torch.randn(20, 8, generator=torch.Generator().manual_seed(0)),
                                                        torch.arange(20) % 4))

    def digest(scale: str) -> str:
        install(scale)
        return split_key(input_key(inputs, "spectrum", CurvatureOptions()))[0]  # the witness aside

    first = digest("1.0")
    assert digest("1.0") == first  # the same files installed again
    assert digest("3.0") != first
