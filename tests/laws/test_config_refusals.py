"""A law config dataclass refuses at construction a setting its mode never reads, as the
command line refuses the flag: ``NplhConfig(mode="pressure", metric="taylor")`` (``law nplh
--mode pressure --metric taylor`` exits 2), ``ImpConfig(rewind="init", rewind_steps=50)``
(``imp --rewind init --rewind-steps 50``), ``HyperfluxConfig(regrowth_epochs=0,
regrowth_gate_decay=0.5)`` (``prunelimit.hyperflux(..., regrowth_epochs=0,
regrowth_gate_decay=0.5)``). Built directly, each was accepted and the setting ignored."""

from __future__ import annotations

import pytest

import prunelimit
from prunelimit.errors import OptionError
from prunelimit.laws.hyperflux import HyperfluxConfig
from prunelimit.laws.imp import ImpConfig
from prunelimit.laws.nplh import DEFAULT_PRESSURES, NplhConfig


@pytest.mark.parametrize("make, field, words", [
    (lambda: NplhConfig(mode="pressure", metric="taylor"), "metric", "applies to"),
    (lambda: NplhConfig(mode="static", rate=0.2), "rate", "applies to"),
    (lambda: NplhConfig(mode="iterative", epochs_per_level=5), "epochs_per_level", "applies to"),
    (lambda: NplhConfig(mode="static", pressures=(1.0, 2.0, 4.0, 8.0, 16.0)), "pressures", "applies to"),
    (lambda: ImpConfig(rewind="init", rewind_steps=50), "rewind_steps", "applies to"),
    (lambda: HyperfluxConfig(regrowth_epochs=0, regrowth_gate_decay=0.5), "regrowth_gate_decay", "regrowth phase"),
])
def test_a_setting_its_mode_never_reads_is_refused_at_construction(make, field, words):
    with pytest.raises(OptionError) as refused:
        make()
    assert refused.value.option == field and words in str(refused.value)


def test_the_settings_each_mode_reads_are_taken():
    assert NplhConfig(mode="pressure", epochs_per_level=5).epochs_per_level == 5
    assert NplhConfig(mode="iterative", rate=0.2, metric="taylor").rate == 0.2
    assert NplhConfig(mode="pressure", pressures=DEFAULT_PRESSURES).mode == "pressure"
    assert ImpConfig(rewind="early", rewind_steps=50, epochs_dense=2).rewind_steps == 50
    assert HyperfluxConfig(regrowth_epochs=3, regrowth_gate_decay=0.5).regrowth_gate_decay == 0.5


def test_the_library_refuses_a_config_as_the_command_line_refuses_its_flags(cli, own_ckpt, model, train):
    """One refusal for one combination, whichever way it is given."""
    result = cli("law", "nplh", own_ckpt, "--mode", "pressure", "--metric", "taylor", "--threads", "1")
    assert result.exit_code == 2 and "--metric applies to --mode static or iterative, not pressure" in result.stderr
    with pytest.raises(OptionError, match="^metric applies to mode='static' or iterative, not pressure"):
        prunelimit.nplh(model, train, mode="pressure", metric="taylor")
    with pytest.raises(OptionError, match="^metric applies to "):
        prunelimit.nplh(model, train, config=NplhConfig(mode="pressure", metric="taylor"))
