"""NplhConfig: the one home of the ``law nplh`` defaults, validated there."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest
import torch

from prunelimit import api, cli
from prunelimit.errors import OptionError
from prunelimit.inputs import Inputs
from prunelimit.laws.nplh import NplhConfig


@pytest.mark.parametrize("field, value", [
    ("metric", "voodoo"), ("mode", "sideways"), ("region", (0.5, 0.1)), ("region", (0.0, 0.5)),
    ("region", "0.005,0.5"), ("region", 0.5), ("rate", 0.0), ("rate", 1.0), ("finetune_steps", -1),
    ("finetune_steps", 2.5), ("pressures", ()), ("pressures", (1.0, -2.0)), ("pressures", (4.0, 1.0)),
    ("pressures", (1.0, float("inf"))), ("epochs_per_level", 0), ("seed", -1), ("seed", True),
])
def test_nplh_config_names_the_bad_field(field, value) -> None:
    with pytest.raises(ValueError, match=field) as info:
        NplhConfig(**{field: value})
    assert isinstance(info.value, OptionError) and info.value.option == field


def test_api_refuses_a_bad_override_before_touching_the_inputs() -> None:
    # The inputs are never read: validation comes first, so an empty Inputs-typed stand-in suffices.
    with pytest.raises(OptionError, match="rate"):
        api.nplh(Inputs.__new__(Inputs), NplhConfig(), rate=1.5)


@pytest.mark.parametrize("mode, setting, applies", [
    ("static", {"pressures": (1.0, 2.0)}, "pressure"), ("static", {"rate": 0.3}, "iterative"),
    ("static", {"finetune_steps": 3}, "iterative"), ("static", {"epochs_per_level": 2}, "pressure"),
    ("iterative", {"pressures": (1.0, 2.0)}, "pressure"), ("pressure", {"rate": 0.3}, "iterative"),
])
def test_a_setting_of_another_mode_is_refused_not_ignored(mode, setting, applies) -> None:
    """``nplh(mode="static", pressures=[...])`` recorded the static points and dropped the
    ladder in silence, where ``law nplh --pressures`` without ``--mode pressure`` is refused:
    the library refuses it too, naming the keyword and the mode it applies to, before the
    inputs are read."""
    import prunelimit
    from prunelimit.errors import library_call

    (name,) = setting
    for config in (None, NplhConfig(mode=mode)):  # as an override, of the default or of a config
        # a Python caller of prunelimit.api typed mode=, not --mode: it was told the flag
        with pytest.raises(OptionError, match=f"^{name} applies to mode='{applies}', not {mode};") as info:
            api.nplh(Inputs.__new__(Inputs), config, **({} if config else {"mode": mode}), **setting)
        assert info.value.option == name
    with library_call(), pytest.raises(OptionError, match=f"^{name} applies to mode='{applies}', not {mode}; add "
                                       f"mode='{applies}' or drop it$"):
        api.nplh(Inputs.__new__(Inputs), mode=mode, **setting)
    with pytest.raises(OptionError, match=f"mode='{applies}'"):
        prunelimit.nplh(torch.nn.Linear(4, 3), (torch.randn(8, 4), torch.arange(8) % 3), mode=mode, **setting)


def test_region_auto_and_pairs_are_accepted() -> None:
    assert NplhConfig(region="auto").region == "auto"
    assert NplhConfig(region=(0.01, 1.0)).region == (0.01, 1.0)


def test_command_line_defaults_are_the_config_defaults() -> None:
    # epochs_per_level once differed: 3 on the command line, 5 in the pressure-ladder functions.
    params = inspect.signature(inspect.unwrap(cli.law_nplh)).parameters
    flags = ("metric", "mode", "rate", "finetune_steps", "epochs_per_level")
    config = NplhConfig()
    assert {f: params[f].default for f in flags} == {f: getattr(config, f) for f in flags}
    assert api.parse_region(params["region"].default) == config.region
    assert api.parse_region(inspect.signature(inspect.unwrap(cli.law_nplh_fit)).parameters["region"].default) \
        == config.region


EXAMPLE = "examples/digits-mlp.pt"


def test_pressures_flag_sets_the_ladder_of_the_pressure_mode(cli, monkeypatch) -> None:
    """`law nplh --mode pressure` ran only the built-in Γ ladder: `--pressures` sets it, and
    each recorded point's γ is one of the given pressures."""
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    ladder = [0.5, 2.0, 8.0, 32.0, 128.0, 512.0]
    result = cli("law", "nplh", EXAMPLE, "--mode", "pressure", "--pressures", ",".join(map(str, ladder)),
                 "--epochs-per-level", "1", "--region", "0.0005,1", "--threads", "1", "--json")
    assert result.exit_code == 0, result.stderr
    gammas = [point["gamma"] for point in json.loads(result.stdout)["points"]]
    assert gammas and set(gammas) <= set(ladder)


@pytest.mark.parametrize("args, says", [
    (["--mode", "pressure", "--pressures", "2,1"], "increasing"),
    (["--mode", "pressure", "--pressures", "1,-2"], "--pressures"),
    (["--mode", "pressure", "--pressures", "1,two"], "--pressures"),
    (["--mode", "pressure", "--pressures", ""], "--pressures"),
    (["--pressures", "1,2,4"], "--pressures applies to --mode pressure, not static"),  # the ladder would be ignored
])
def test_a_bad_pressures_flag_exits_2_before_any_work(cli, args, says) -> None:
    result = cli("law", "nplh", "no-such-checkpoint.pt", *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert says in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("given", [["--pressures", "[0.5, 2, 8]"], ["--pressures", "0.5,2,8"], ["--config", "LIST"]])
def test_law_nplh_reads_pressures_as_a_comma_list_a_bracketed_list_or_a_config_list(cli, own_ckpt, tmp_path, given):
    """``--pressures "[0.5, 2, 8]"`` and a --config list were refused ("use ... numbers separated by commas")."""
    if given[-1] == "LIST":
        (tmp_path / "c.yaml").write_text("pressures: [0.5, 2, 8]\n")
        given = ["--config", str(tmp_path / "c.yaml")]
    run = cli("law", "nplh", own_ckpt, "--mode", "pressure", "--epochs-per-level", "1", "--region", "0.001,1",
              *given, "--json")
    assert run.exit_code == 0, run.stderr
    assert [p["gamma"] for p in json.loads(run.stdout)["points"]] == [0.5, 2.0, 8.0]


@pytest.mark.parametrize("args, says", [
    (["--rate", "0.2"], "--rate applies to --mode iterative, not static"),
    (["--mode", "pressure", "--finetune-steps", "5"], "--finetune-steps applies to --mode iterative, not pressure"),
    (["--mode", "iterative", "--epochs-per-level", "1"], "--epochs-per-level applies to --mode pressure, not iterative"),
    (["--mode", "iterative", "--pressures", "1,2"], "--pressures applies to --mode pressure, not iterative"),
    # a --config value is refused too, by its key in the file
    (["--config", "rate: 0.3\n"], "rate in {} applies to --mode iterative, not static"),
    (["--config", "nplh:\n  mode: pressure\n  rate: 0.3\n"], "rate in {} applies to --mode iterative, not pressure"),
])
def test_law_nplh_refuses_a_setting_of_another_mode_before_any_work(cli, tmp_path, args, says) -> None:
    """``law nplh --rate 0.2`` (static) recorded the static points and ignored the rate in silence,
    as --finetune-steps beside pressure and --epochs-per-level beside iterative did; each is refused
    (exit 2) naming the flag (the key and file the --config file set it in) and the mode it
    belongs to, before the checkpoint is read."""
    if args[0] == "--config":
        (tmp_path / "c.yaml").write_text(args[1])
        args = ["--config", str(tmp_path / "c.yaml")]
    result = cli("law", "nplh", "no-such-checkpoint.pt", *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert says.format(tmp_path / "c.yaml") in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("pressures, says", [
    ((1.0,), "gives 1 pressure"), ((1.0, 2.0), "gives 2 pressures"),
    ((1.0, 1.0, 2.0, 4.0), "1 is given twice"), ((0.5, 2.0, 2.0, 2.0), "2 is given 3 times"),
])
def test_a_pressure_ladder_that_cannot_give_a_fit_is_refused_before_training(pressures, says) -> None:
    """Each level of the ladder is one point, its gamma the level's pressure: a ladder of one or two
    pressures trained every level and then found too few points ("only 1 point(s) …"), and a pressure
    given twice gave two points at one gamma (two times, not two laws). Both are refused by the config."""
    with pytest.raises(OptionError, match=says) as info:
        NplhConfig(mode="pressure", pressures=pressures)
    assert info.value.option == "pressures"


def test_an_automatic_region_needs_a_ladder_of_4_pressures() -> None:
    """``--region auto`` fits segments of 4 points or more: 3 pressures trained, then were refused."""
    with pytest.raises(OptionError, match="gives 3 pressures, .* the automatic region needs 4 or more"):
        NplhConfig(mode="pressure", pressures=(1.0, 2.0, 4.0), region="auto")
    assert NplhConfig(mode="pressure", pressures=(1.0, 2.0, 4.0)).pressures == (1.0, 2.0, 4.0)


def test_a_short_or_repeated_ladder_exits_2_before_the_checkpoint_is_read(cli) -> None:
    for ladder, says in (("1,2", "--pressures 1,2 gives 2 pressures"), ("1,1,2", "--epochs-per-level")):
        result = cli("law", "nplh", "no-such-checkpoint.pt", "--mode", "pressure", "--pressures", ladder)
        assert result.exit_code == 2, (result.stdout, result.stderr)
        assert says in result.stderr and "Traceback" not in result.stderr


def test_law_nplh_takes_the_settings_of_its_own_mode(cli, tmp_path) -> None:
    """The check refuses only another mode's settings: those of the mode asked for pass on to the
    checkpoint (here missing: exit 3)."""
    result = cli("law", "nplh", "no-such-checkpoint.pt", "--mode", "iterative", "--rate", "0.2", "--finetune-steps", "5")
    assert result.exit_code == 3, (result.stdout, result.stderr)


def test_an_iterative_rate_whose_rounds_miss_the_region_is_refused_before_training(cli, monkeypatch) -> None:
    """--rate 0.9 records densities 0.1, 0.01, 0.0013: two in [0.005, 0.5]. It trained every
    round, then said 'only 2 point(s) … record more points' without naming --rate."""
    import prunelimit.laws.nplh as nplh

    monkeypatch.setattr(nplh, "iterative_points", lambda *a, **k: pytest.fail("it trained"))
    result = cli("law", "nplh", "examples/digits-mlp.pt", "--mode", "iterative", "--rate", "0.9",
                 "--max-samples", "64")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "--rate 0.9" in result.stderr and "record 2 point(s)" in result.stderr
    suggested = float(re.search(r"use --rate ([0-9.]+) or lower", result.stderr).group(1))
    assert suggested < 0.9 and sum(0.005 <= d <= 0.5 for d in nplh.iterative_densities(2368, 2368, suggested)) >= 3
