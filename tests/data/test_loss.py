"""Loss specs: a torch criterion named where a ``fn(model, batch)`` loss goes."""

from __future__ import annotations

import pytest

from prunelimit.data.loss import resolve_loss
from prunelimit.errors import InputError

CRITERIA = "import torch\nimport torch.nn.functional as F\ncrit = torch.nn.CrossEntropyLoss()\nfn = F.l1_loss\n"


@pytest.mark.parametrize("name, kind", [("crit", "CrossEntropyLoss"), ("fn", "l1_loss")])
def test_a_torch_criterion_as_the_loss_says_how_to_wrap_it(tmp_path, name, kind):
    """``--loss losses.py:crit`` with ``crit = nn.CrossEntropyLoss()`` was called as
    ``crit(model, batch)`` and failed on the first batch ("argument 'input' must be Tensor,
    not Sequential; check that --data, --model and --loss fit together")."""
    path = tmp_path / "losses.py"
    path.write_text(CRITERIA)
    with pytest.raises(InputError, match=rf"^loss {path}:{name} is torch's {kind} criterion\(output, target\), not "
                                         rf"fn\(model, batch\) -> mean loss; wrap it: def loss\(model, batch\): "
                                         rf"return {name}\(model\(batch\[0\]\), batch\[1\]\)$"):
        resolve_loss(f"{path}:{name}")
