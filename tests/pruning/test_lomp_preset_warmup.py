"""``train --preset P --epochs N`` with N below the preset's warm-up: the refusal named
``--warmup-epochs``, which was never typed (``--warmup-epochs must lie in [0, --epochs=3], got
5``); it names the typed ``--epochs``, the preset's warm-up and both ways out."""

from __future__ import annotations

import pytest

from prunelimit.errors import OptionError
from prunelimit.pruning.lomp import PRESETS, lomp_config


def test_the_command_line_names_the_typed_epochs_and_the_presets_warm_up(cli, tmp_path):
    assert PRESETS["vgg16-bn-cifar"].warmup_epochs == 5
    result = cli("train", "--preset", "vgg16-bn-cifar", "--model", "mlp:64,8,10", "--data", "digits:train",
                 "--epochs", 3, "-o", tmp_path / "m.pt")
    assert result.exit_code == 2, result.output
    assert ("--epochs 3 is shorter than the 5 warm-up epochs of --preset vgg16-bn-cifar; give --epochs at least 5, "
            "or --warmup-epochs at most 3") in " ".join(result.stderr.split())
    assert not (tmp_path / "m.pt").exists()


def test_a_typed_warm_up_is_checked_as_typed_and_a_fitting_one_passes():
    with pytest.raises(OptionError, match=r"^warmup_epochs must lie in \[0, epochs=3\], got 4$"):
        lomp_config("vgg16-bn-cifar", epochs=3, warmup_epochs=4)
    assert lomp_config("vgg16-bn-cifar", epochs=3, warmup_epochs=2).warmup_epochs == 2
    assert lomp_config("vgg16-bn-cifar", epochs=5).warmup_epochs == 5
