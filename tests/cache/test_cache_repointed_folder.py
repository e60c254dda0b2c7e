"""A long-lived process (a notebook) whose code comes from a symlinked folder: re-pointed, and a
module imported again from it, the key reads the code the module now runs (``cache._resolved``
resolves the user's files each time; installed ones once a process)."""
import importlib
import os
import sys

import torch

import prunelimit
from prunelimit.api import CurvatureOptions
from prunelimit.cache import code_files, input_key, split_key

# v2 doubles the activation only where gradients are taken: the loss witness (no gradients) is
# the same, the Hessian is not; the model reaches it by a name built at run time, which only the
# helper's file tells the key about
_HELPERS = {"v1": "def act(x):\n    return torch.relu(x)\n",
            "v2": "def act(x):\n    return torch.relu(x) * (2.0 if torch.is_grad_enabled() else 1.0)\n"}


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(8, 4), torch.nn.Linear(4, 4)

    def forward(self, x):
        return self.b(getattr(importlib.import_module("pl_repointed_helper"), "".join(("ac", "t")))(self.a(x)))


def test_a_module_imported_again_from_a_re_pointed_folder_is_keyed_by_its_new_code(tmp_path, monkeypatch):
    for version, body in _HELPERS.items():
        (tmp_path / version).mkdir()
        (tmp_path / version / "pl_repointed_helper.py").write_text("import torch\n\n\n" + body)
    current = tmp_path / "current"
    current.symlink_to(tmp_path / "v1")
    monkeypatch.syspath_prepend(str(current))
    monkeypatch.delitem(sys.modules, "pl_repointed_helper", raising=False)
    importlib.import_module("pl_repointed_helper")
    torch.manual_seed(0)
    inputs = prunelimit.inputs_from(_Net(), (torch.randn(20, 8, generator=torch.Generator().manual_seed(0)),
                                             torch.arange(20) % 4))
    before = split_key(input_key(inputs, "spectrum", CurvatureOptions()))

    current.unlink()
    current.symlink_to(tmp_path / "v2")
    del sys.modules["pl_repointed_helper"]
    importlib.import_module("pl_repointed_helper")

    read = {os.path.realpath(f) for f, name in code_files(inputs).items() if name == "pl_repointed_helper"}
    assert read == {os.path.realpath(tmp_path / "v2" / "pl_repointed_helper.py")}
    after = split_key(input_key(inputs, "spectrum", CurvatureOptions()))
    assert after[1] == before[1]  # the same witness: only the code's file tells them apart
    assert after[0] != before[0]
