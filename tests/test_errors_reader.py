"""Messages speak to their reader (``prunelimit.errors.said``/``option``): the command line's
flags and commands, or, within a library call, the keyword arguments and functions. Every
warning a library result can carry that named a flag is built here once for both readers."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.models.params import ParamSelection

from prunelimit import api
from prunelimit.api.curvature import samples_notes
from prunelimit.api.spectrum_notes import larger_budget, _more_probes, _more_steps, over_budget_note, subsample_note
from prunelimit.api.laws import _missed_target
from prunelimit.api.layers import outside_budgets
from prunelimit.api.limit import outside_hessian_warnings
from prunelimit.api.verification import PredictedLimit, _diagnose
from prunelimit.curvature.layers import BlockCost
from prunelimit.errors import QUOTED_LIMIT, OptionError, library_call, option, quoted, said
from prunelimit.laws.hyperflux import HyperfluxEpoch
from prunelimit.theory.regime import assess_regime

# a flag (--name) or a command (`prunelimit verify`, `gate --use actual`) in a message
COMMAND_LINE = re.compile(r"(?<![\w-])--[a-z]|`(prunelimit|gate) ")


def test_an_option_is_a_flag_on_the_command_line_and_a_keyword_in_the_library() -> None:
    assert (option("pruning_epochs"), option("iterations", 256), option("negative", "abs")) == \
        ("--pruning-epochs", "--iterations 256", "--negative abs")
    assert option("memory_budget_mb", 10, "--memory-budget") == "--memory-budget 10"
    with library_call():
        assert (option("pruning_epochs"), option("iterations", 256), option("negative", "abs")) == \
            ("pruning_epochs=", "iterations=256", "negative='abs'")
        assert said("`prunelimit verify`", "prunelimit.verify") == "prunelimit.verify"
    assert said("`prunelimit verify`", "prunelimit.verify") == "`prunelimit verify`"  # the reader is given back


def _warnings() -> list[str]:
    """One of each warning a library result can carry that names an option or command."""
    import torch

    log = [HyperfluxEpoch(i + 1, "prune", 1.0, d, None, 0.1) for i, d in enumerate([0.6, 0.3, 0.2])]
    regrown = log + [HyperfluxEpoch(4, "regrow", 0.0, 0.3, None, 0.1)]
    prediction = PredictedLimit(ratio=0.9, lower=0.8, upper=0.95, epsilon=0.05, radius=2.0, trace=20.0,
                                params_hessian=1000, scope="global", warnings=(), cached=False)
    plain = torch.randn(64, 64, generator=torch.Generator().manual_seed(0))
    return [*_missed_target(0.2, 0.05, log), *_missed_target(0.3, 0.2, regrown), *_missed_target(0.02, 0.2, log),
            # its lines: the gap, the cause, the fix (training with l1: a plain model's)
            " ".join(_diagnose(prediction, 0.2, "0.0 % below 0.001", assess_regime([plain]))),
            " ".join(_diagnose(prediction, -0.2, "0.0 % below 0.001", assess_regime([plain]))),
            *outside_budgets(api.CurvatureOptions(max_hvps=40, time_budget=1e6), BlockCost("lanczos", 32, 2, 64, 0.5)),
            *outside_hessian_warnings(["0.weight"], [plain], {}, ParamSelection()),
            *samples_notes(api.CurvatureOptions(hessian_samples=50), 1000, "exact"),
            *samples_notes(api.CurvatureOptions(hessian_samples=5000), 1000, "slq-h"), subsample_note(300, 1000),
            over_budget_note(api.CurvatureOptions(max_hvps=10, time_budget=1.0), 20, 3.0),
            # the remedies the tolerance warning quotes
            larger_budget("memory"), larger_budget("tolerance"), _more_steps(None), _more_probes("converged", 10**6),
            assess_regime([plain]).advice]


def test_a_library_results_warnings_name_its_arguments_not_flags() -> None:
    """hyperflux said "raise --pruning-epochs", verify "`prunelimit train --l1 ...`" to a caller
    of prunelimit.hyperflux/verify, who has no flags to raise."""
    cli = _warnings()
    assert all(COMMAND_LINE.search(w) for w in cli), [w for w in cli if not COMMAND_LINE.search(w)]
    assert cli[-1].endswith("gate on the measured limit (`gate --use actual`) or check with `prunelimit verify`, "
                            "or train with l1 (`prunelimit train --l1 ...`)")  # as before, as the docs quote it
    with library_call():
        library = _warnings()
    assert [w for w in library if COMMAND_LINE.search(w)] == []
    named = " ".join(library)
    for said_there in ("raise pruning_epochs=", "lower regrowth_epochs=", "prunelimit.train(model, data, l1=...)",
                       "ε (epsilon=)", "outside max_hvps= and time_budget=", "per_layer=True's blocks",
                       "exclude=('0',) leaves them out", "gate on the measured limit (prunelimit.gate(..., use='actual'))",
                       "hessian_samples='all' takes every sample", "raise max_hvps= and time_budget=",
                       "a larger basis_memory_mb=", "runs=K, iterations=1000000"):
        assert said_there in named


def test_an_option_in_a_template_keeps_its_field_for_each_readers_name() -> None:
    """``option(name, value, "{0}")`` in a template: the command line fills the field with its flag
    and the value as typed, a library caller with the name it knows and ``=value``."""
    from prunelimit.errors import OptionError

    error = OptionError("target_density", f"{option('target_density', 0.7, '{0}')} is above")
    assert (str(error), error.named("--target-density")) == ("target_density 0.7 is above", "--target-density 0.7 is above")
    with library_call():
        error = OptionError("target_density", f"{option('target_density', 0.7, '{0}')} is above")
    assert error.named("density") == "density=0.7 is above"  # the library's own name for it


def _library_message(call) -> str:
    import pytest

    from prunelimit.errors import PrunelimitError

    with pytest.raises(PrunelimitError) as caught:
        call()
    return str(caught.value)


def test_a_library_call_writes_a_value_as_the_call_does() -> None:
    """Messages with a value after an option's name read ``method 'x'``, ``use loss mse``,
    ``pass milestones, e.g. 10,20`` to a library caller, as a flag and its value; they read as
    the keyword argument with its value now (``method='x'``, ``loss='mse'``, ``milestones=(10, 20)``)."""
    import torch

    import prunelimit

    torch.manual_seed(0)
    model, data = torch.nn.Linear(4, 3), (torch.randn(32, 4), torch.arange(32) % 3)
    assert _library_message(lambda: prunelimit.bounds(model, data, method="x")).startswith("method='x': use ")
    assert _library_message(lambda: prunelimit.bounds(model, (data[0], torch.linspace(0, 1, 32)))).endswith(
        "use loss='mse' for regression")
    assert _library_message(lambda: prunelimit.train(model, data, schedule="step")).endswith(
        "pass them, e.g. milestones=(10, 20)")
    assert _library_message(lambda: prunelimit.nplh(model, data, region="0.1")).startswith("region='0.1': use ")


def test_the_command_line_writes_a_value_as_typed(cli) -> None:
    result = cli("train", "--model", "mlp:8,10", "--data", "digits:train", "-o", "never.pt", "--schedule", "step")
    assert result.exit_code == 2 and "pass them, e.g. --milestones 10,20" in result.stderr


def test_a_message_quotes_data_given_for_a_number_by_kind_and_shape_not_its_numbers():
    """Data passed in a number's place (``prune(model, data, (x, y))``) was quoted by repr:
    thousands of numbers in one error. A tensor reads as its dtype and shape, any other repr
    is cut to ``QUOTED_LIMIT`` characters."""
    x, y = torch.randn(1000, 4), torch.randint(0, 3, (1000,))
    assert quoted((x, y)) == "(Tensor (float32, shape (1000, 4)), Tensor (int64, shape (1000,)))"
    assert quoted(np.zeros((2, 3))) == "ndarray (float64, shape (2, 3))"
    assert quoted(0.5) == "0.5" and quoted("auto") == "'auto'"
    assert len(quoted("z" * 500)) == QUOTED_LIMIT
    model = nn.Sequential(nn.Linear(4, 3))
    with pytest.raises(OptionError) as refused:
        prunelimit.prune(model, (x, y), (x, y))
    assert "shape (1000, 4)" in str(refused.value) and len(str(refused.value)) < 300


def test_an_error_kept_as_a_reason_names_each_readers_options(cli) -> None:
    """A spectrum over one batch has no ε, so no ρ*: the error that says so is kept as the
    warning's reason. Quoted as ``str(error)`` it named the library's parameters on the
    command line ("use a smaller batch_size or give epsilon explicitly")."""
    plan = ("--method", "paper", "--iterations", "8", "--runs", "1", "--max-samples", "300", "--no-cache")
    result = cli("spectrum", "examples/digits-mlp.pt", "--batch-size", "4000", *plan)
    assert result.exit_code == 0, result.stderr
    assert "use a smaller --batch-size or give --epsilon explicitly" in " ".join(result.stdout.split())
    model = nn.Sequential(nn.Linear(4, 3))
    x, y = torch.randn(40, 4), torch.arange(40) % 3
    report = prunelimit.spectrum(model, (x, y), batch_size=64, method="paper", iterations=4, runs=1)
    reasons = [w for w in report.warnings if w.startswith("no ρ*")]
    assert reasons and "use a smaller batch_size or give epsilon explicitly" in reasons[0], report.warnings


def _solver_reasons() -> list[str]:
    """The reason of every branch of ``choose_solver`` that names an option."""
    from prunelimit.api.options import CurvatureOptions, choose_solver

    def reason(seconds: float | None = None, **fields) -> str:
        return choose_solver(CurvatureOptions(**fields), 500, seconds, 0.0, fields.get("time_budget")).reason

    return [reason(method="exact"), reason(method="paper"), reason(runs=4), reason(method="slq"),
            reason(max_hvps=100), reason(0.01, time_budget=2.0), reason(1.0, time_budget=10.0)]


def test_the_solver_choice_names_its_options_to_each_reader() -> None:
    """spectrum.choice.reason of a library result read "asked for (--method exact)" and
    "more than --max-hvps 100", flags its caller never typed; the command line's text is
    unchanged (the docs quote it)."""
    cli = _solver_reasons()
    assert cli[0] == "asked for (--method exact)" and cli[4].endswith("more than --max-hvps 100")
    assert all(COMMAND_LINE.search(r) for r in cli), cli
    with library_call():
        library = _solver_reasons()
    assert [r for r in library if COMMAND_LINE.search(r)] == []
    assert library[0] == "asked for (method='exact')" and library[4].endswith("more than max_hvps=100")
    assert "(time_budget)" in library[5] and "(method='paper')" in library[1]
