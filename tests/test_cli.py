"""The command line as a user meets it: output, exit codes, config, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from prunelimit.models.spec import build_model
from tests.conftest import SPEC, write_evil_pickle


def test_info_json_has_spec_keys(cli, own_ckpt):
    result = cli("info", own_ckpt, "--data", "digits:test", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "prunelimit.info/1"
    assert doc["params"] == {"total": 64 * 12 + 12 + 12 * 10 + 10, "prunable": 64 * 12 + 120, "hessian": 910}
    assert [l["name"] for l in doc["layers"]] == ["0.weight", "2.weight"]
    assert 0 <= doc["accuracy"] <= 1 and doc["loss"] > 0


def test_info_table_for_humans(cli, own_ckpt):
    result = cli("info", own_ckpt)
    assert result.exit_code == 0 and "prunable N = 888" in result.stdout


def test_info_names_the_prunable_set_and_where_it_came_from(cli, own_ckpt, tmp_path):
    """N depends on the set: info says which one it counted, recorded, given or the default."""
    from prunelimit.io.checkpoint import save_checkpoint

    recorded = tmp_path / "recorded.pt"
    save_checkpoint(recorded, SPEC, build_model(SPEC).state_dict(), meta={"pruned": {"include": [], "exclude": ["2"]}})
    sets = {name: json.loads(cli("info", path, *flags, "--json").stdout)["prunable_set"]
            for name, path, flags in (("default", own_ckpt, ()), ("given", own_ckpt, ("--exclude", "2")),
                                      ("recorded", recorded, ()), ("over", recorded, ("--exclude", "0")))}
    assert sets == {"default": {"include": [], "exclude": [], "from": "default"},
                    "given": {"include": [], "exclude": ["2"], "from": "options"},
                    "recorded": {"include": [], "exclude": ["2"], "from": "checkpoint"},
                    "over": {"include": [], "exclude": ["0"], "from": "options"}}
    table = cli("info", recorded).stdout
    assert "prunable set: --exclude '2' (recorded in the checkpoint)" in table
    assert "prunable set" not in cli("info", own_ckpt).stdout


def test_include_exclude_patterns(cli, own_ckpt):
    doc = json.loads(cli("info", own_ckpt, "--exclude", "2", "--json").stdout)
    assert [l["name"] for l in doc["layers"]] == ["0.weight"]


def test_config_file_supplies_options_and_flags_win(cli, own_ckpt, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: digits:test\ninfo:\n  max-samples: 10\nbounds:\n  iterations: 3\n")
    doc = json.loads(cli("info", own_ckpt, "--config", cfg, "--json").stdout)
    assert doc["data"] == "digits:test"
    doc = json.loads(cli("info", own_ckpt, "--config", cfg, "--data", "digits:train", "--json").stdout)
    assert doc["data"] == "digits:train"


@pytest.mark.parametrize(
    "yaml_text, message",
    [("bogus_key: 1\n", "unknown option 'bogus_key'"), ("- a\n- b\n", "mapping"), ("a: [\n", "not valid YAML"),
     # a typo: the nearest option or section (the whole list of options, and 'bound' as an option, misled)
     ("batch-sise: 3\n", "unknown option 'batch_sise' for `prunelimit info`; did you mean 'batch_size'?\n"),
     ("bound:\n  iterations: 3\n", "unknown section 'bound'; did you mean 'bounds'?\n")],
)
def test_bad_config_is_exit_2(cli, own_ckpt, tmp_path, yaml_text, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    result = cli("info", own_ckpt, "--config", cfg)
    assert result.exit_code == 2 and message in result.stderr


def test_config_wrong_type_is_exit_2(cli, own_ckpt, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("batch_size: many\n")
    assert cli("info", own_ckpt, "--config", cfg).exit_code == 2


def _bad_inputs(tmp_path, tiny_model):
    sd = tmp_path / "sd.pt"
    torch.save(tiny_model.state_dict(), sd)
    three = tmp_path / "three.pt"
    torch.save(build_model("mlp:64,12,3").state_dict(), three)
    noise = tmp_path / "noise.pt"
    noise.write_bytes(bytes(range(256)) * 8)
    return {
        "missing-file": (["info", tmp_path / "none.pt"], 3, "not found"),
        "random-bytes": (["info", noise], 3, "not a readable PyTorch file"),
        "wrong-architecture": (["info", sd, "--model", "mlp:64,5,10"], 3, "shape mismatch"),
        "bad-model-spec": (["info", sd, "--model", "mlp:x"], 2, "mlp sizes must be integers"),
        "no-model-spec": (["info", sd], 2, "--model SPEC"),
        "bad-data-spec": (["info", sd, "--model", SPEC, "--data", "nosuch:1"], 2, "unknown data source"),
        "missing-data-root": (["info", sd, "--model", SPEC, "--data", "cifar10:/no/such/dir"], 3, "does not exist"),
        "data-model-mismatch": (["info", sd, "--model", SPEC, "--data", "synthetic:features=7"], 3, "fails on data"),
        "labels-out-of-range": (["info", three, "--model", "mlp:64,12,3", "--data", "digits"], 3, "label 9"),
        "bad-device": (["info", sd, "--model", SPEC, "--device", "tpu"], 2, "--device"),
    }


@pytest.mark.parametrize(
    "case",
    ["missing-file", "random-bytes", "wrong-architecture", "bad-model-spec", "no-model-spec", "bad-data-spec",
     "missing-data-root", "data-model-mismatch", "labels-out-of-range", "bad-device"],
)
def test_bad_input_exit_codes_and_short_messages(cli, tmp_path, tiny_model, case):
    args, code, message = _bad_inputs(tmp_path, tiny_model)[case]
    result = cli(*args)
    assert result.exit_code == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2
    assert result.stdout == ""


def test_real_process_no_traceback_and_pickle_never_runs(tmp_path):
    """End to end in a fresh interpreter: the exit code, one line, and no code execution."""
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pt"
    write_evil_pickle(evil, marker)
    proc = subprocess.run([sys.executable, "-m", "prunelimit", "info", str(evil)], capture_output=True, text=True)
    assert proc.returncode == 3 and "--trust-pickle" in proc.stderr
    assert "Traceback" not in proc.stderr and not marker.exists()


def test_version_and_help(cli):
    assert cli("--version").exit_code == 0
    result = cli("info", "--help")
    assert result.exit_code == 0 and "Example: prunelimit info" in result.stdout


def _commands(group, path: tuple[str, ...] = ()):
    """``(path, click command)`` for every command and subcommand of the CLI (a group is
    known by its ``commands``: typer's groups are not ``click.Group`` instances)."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def _cli_commands():
    import typer

    from prunelimit.cli import app

    commands = list(_commands(typer.main.get_command(app)))
    assert ("law", "nplh") in [path for path, _ in commands]
    return commands


def test_every_option_of_every_command_says_what_it_does():
    """``--help`` lists no bare option (``--finetune-lr`` had no text) and every command ends
    with an example of itself."""
    for path, command in _cli_commands():
        bare = [p.opts[0] for p in command.params if not getattr(p, "help", None)]
        assert not bare, (path, bare)
        epilog = command.epilog or ""
        assert epilog.startswith("Example: ") and f"prunelimit {' '.join(path)} " in epilog, path


def test_help_at_80_columns_shows_every_option_name_and_word_in_full(cli, monkeypatch):
    """An 80-column terminal: rich's tables cut the widest column with "…", so `gate --help`
    listed ``--allow-incompatible-…`` and the model spec ``resnet18-cifar:num_cl…``. Every
    option's names are shown whole, and its help as written, wrapped."""
    import re

    monkeypatch.setenv("COLUMNS", "80")
    for path, command in _cli_commands():
        shown = cli(*path, "--help").stdout
        assert shown and max(map(len, shown.splitlines())) <= 80, path
        text = "".join(shown.replace("│", " ").split())  # line breaks (at spaces or hyphens) taken out
        for param in command.params:
            for name in (*param.opts, *param.secondary_opts):
                if name.startswith("-"):
                    assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", shown), (path, name)
            assert "".join((getattr(param, "help", None) or "").split()) in text, (path, param.name)
        for own in (command.help, command.epilog):  # a "[default: …]" too: no markup drops it
            assert "".join((own or "").split()) in text, path
    for group in ((), ("law",)):  # each command's summary whole, not cut at "(Zhang et al."
        text = "".join(cli(*group, "--help").stdout.split())
        assert all("".join((command.help or "").split()) in text
                   for path, command in _cli_commands() if path[:-1] == group), group


def test_help_shows_the_default_of_max_hvps_and_rewind_steps(cli):
    def words(*args: str) -> str:  # the help's text, its box and line breaks taken out
        return " ".join(cli(*args, "--help").stdout.replace("│", " ").split())

    assert "at most [default: 1,600, what" in words("bounds")
    assert "--rewind early [default: 10]." in words("imp")


def test_starting_the_command_line_imports_neither_matplotlib_nor_scipy():
    """``--help``, ``info`` and every command start by importing ``prunelimit.cli``: matplotlib
    (~0.6 s) waits for ``--plot``/``--report``, SciPy for the functions that compute with it,
    and ``bounds``' uncertainty and trace factors never import scipy.stats (~0.9 s)."""
    code = (
        "import sys, prunelimit.cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'scipy')))\n"
        "from prunelimit.curvature.trace import rank_one_factor\n"
        "from prunelimit.theory.uncertainty import coverage_factor, normal_factor\n"
        "rank_one_factor(8), coverage_factor(3), normal_factor()\n"
        "print(sorted(m for m in ('matplotlib', 'scipy.stats') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "[]"]


@pytest.mark.parametrize("main", [True, False])
def test_warnings_come_from_rank_zero_alone(monkeypatch, capsys, main):
    """Under torchrun every rank meets the same warnings: rank 0 prints them, once."""
    from prunelimit.cli import common

    monkeypatch.setattr(common, "is_main", lambda: main)
    common._warn("the model does not look l1-trained")
    assert capsys.readouterr().err == ("prunelimit: warning: the model does not look l1-trained\n" if main else "")
