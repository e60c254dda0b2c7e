"""ImpConfig and HyperfluxConfig: the one home of the IMP and Hyperflux defaults, validated there."""

from __future__ import annotations

import inspect

import pytest

from prunelimit import cli
from prunelimit.errors import OptionError
from prunelimit.laws.hyperflux import HyperfluxConfig
from prunelimit.laws.imp import ImpConfig


@pytest.mark.parametrize("field, value", [
    ("rate", 1.0), ("rate", 0.0), ("levels", -1), ("rewind", "late"), ("rewind_steps", -1),
    ("epochs_per_level", -1), ("epochs_dense", -2), ("lr", 0.0), ("momentum", -0.1), ("momentum", 1.0), ("seed", -1),
    ("levels", 2.5),
])
def test_imp_config_names_the_bad_field(field, value) -> None:
    with pytest.raises(ValueError, match=field) as info:
        ImpConfig(**{field: value})
    assert isinstance(info.value, OptionError) and info.value.option == field


def test_imp_early_rewind_needs_dense_training() -> None:
    with pytest.raises(OptionError, match="early"):
        ImpConfig(rewind="early", epochs_dense=0)


@pytest.mark.parametrize("field, value", [
    ("weight_lr", 0.0), ("gate_lr", -1e-3), ("momentum", -1.0), ("momentum", 5.0), ("weight_decay", float("nan")),
    ("gate_init", (0.5, 0.2)), ("seed", -1), ("pruning_epochs", 0), ("regrowth_epochs", -1),
    ("pressure_step", 0.0), ("pressure_exponent", 0.0), ("regrowth_gate_lr_factor", -1.0),
    ("regrowth_gate_decay", 0.0), ("regrowth_headroom", 1.5),
])
def test_hyperflux_config_names_the_bad_field(field, value) -> None:
    with pytest.raises(ValueError, match=field) as info:
        HyperfluxConfig(**{field: value})
    assert isinstance(info.value, OptionError) and info.value.option == field


@pytest.mark.parametrize("command, config, flags", [
    # --rewind-steps defaults to None, so that giving it without --rewind early is refused;
    # its help states ImpConfig.rewind_steps, which the command then passes on
    (cli.imp, ImpConfig(), {"rate": "rate", "levels": "levels", "rewind": "rewind",
                            "epochs": "epochs_per_level", "epochs_dense": "epochs_dense", "lr": "lr"}),
    (cli.hyperflux, HyperfluxConfig(), {"pruning_epochs": "pruning_epochs", "regrowth_epochs": "regrowth_epochs",
                                        "weight_lr": "weight_lr", "gate_lr": "gate_lr"}),
])
def test_command_line_defaults_are_the_config_defaults(command, config, flags) -> None:
    # Hyperflux's gate lr once differed (1e-2 on the command line, 1e-3 in the library).
    params = inspect.signature(inspect.unwrap(command)).parameters
    assert {flag: params[flag].default for flag in flags} == {flag: getattr(config, f) for flag, f in flags.items()}
