"""A command-line option that no function takes as a keyword (docs/library.md's table of them,
its "—" rows), typed as one in a notebook, is refused naming what to do instead."""

from __future__ import annotations

import pytest
import typer

import prunelimit
from prunelimit.cli import app
from prunelimit.errors import CallError
from prunelimit.library import COMMAND_LINE_ONLY, COMMAND_LINE_ONLY_OF


@pytest.mark.parametrize(("call", "keyword", "instead"), [
    (lambda model, data, **given: prunelimit.bounds(model, data, **given), "threads", "torch.set_num_threads(n)"),
    (lambda model, data, **given: prunelimit.verify(model, data, **given), "max_samples", "(x[:n], y[:n])"),
    (lambda model, data, **given: prunelimit.spectrum(model, data, **given), "device", "model.to(device)"),
    (lambda model, data, **given: prunelimit.gate(model, data, min_ratio=0.1, **given), "exit_zero", "passed"),
    (lambda model, data, **given: prunelimit.prune(model, "auto", data, **given), "finetune_epochs",
     "prunelimit.train(pruning.apply(model), data, l1=0.0, epochs=...)"),
    (lambda model, data, **given: prunelimit.prune(model, 0.5, **given), "eval_data", "prunelimit.verify("),
    (lambda model, data, **given: prunelimit.info(model, data, **given), "json", "to_json()"),
])
def test_a_command_line_option_as_a_keyword_says_what_to_do_instead(model, train, call, keyword, instead):
    """``bounds(model, data, threads=1)`` said "unknown option 'threads'; curvature options are
    basis_dtype, …", ``max_samples=`` "did you mean 'hessian_samples'?" (another thing
    altogether), and ``info(…, json=True)`` Python's "unexpected keyword argument": none said
    what the library does instead. Refused before any work, as a ``CallError``."""
    with pytest.raises(CallError, match=rf"takes no argument '{keyword}', the command line's "
                                        rf"--{keyword.replace('_', '-')}: ") as refused:
        call(model, train, **{keyword: 1})
    assert instead in str(refused.value)


def test_each_keyword_refused_so_is_an_option_of_the_command_line():
    """The keywords named stay those of real options: of some command, or of the command named."""
    def flags(command) -> set[str]:
        return {flag for param in command.params for flag in getattr(param, "opts", ())}

    group = typer.main.get_command(app)
    every = set().union(*(flags(command) for name, command in group.commands.items() if name != "law"))
    for keyword in COMMAND_LINE_ONLY:
        assert "--" + keyword.rstrip("_").replace("_", "-") in every, keyword
    for name, keywords in COMMAND_LINE_ONLY_OF.items():
        for keyword in keywords:
            assert "--" + keyword.replace("_", "-") in flags(group.commands[name]), (name, keyword)
