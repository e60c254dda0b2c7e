"""The option dataclasses a notebook builds itself (``CurvatureOptions``, ``LompConfig``) refuse
a field the plan or schedule would ignore when they are built, as the command line refuses its
flag (``api.bounds`` ignored ``CurvatureOptions(method="exact", tolerance=0.05)``'s tolerance
in silence), and their messages name the fields their caller wrote (``method='exact'``), not
the command line's flags (``--method exact``). The command line keeps its flags, and a
``--config`` file's key that serves another plan stays unused, not refused."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from prunelimit.api.options import CurvatureOptions
from prunelimit.errors import OptionError
from prunelimit.pruning.lomp import LompConfig, lomp_config

@pytest.mark.parametrize("given, refused, plan", [
    (dict(method="exact", tolerance=0.05), "tolerance", "method='exact'"),
    (dict(method="exact", iterations=10), "iterations", "method='exact'"),
    (dict(method="paper", time_budget=5.0), "time_budget", "method='paper'"),
    (dict(iterations=10, max_hvps=100), "max_hvps", "iterations/runs fix the plan"),
    (dict(bound_mode="none", eta=0.05), "eta", "bound_mode='none'"),
])
def test_an_ignored_field_is_refused_when_built_naming_fields(given, refused, plan):
    with pytest.raises(OptionError, match=f"^{refused} has no effect") as caught:
        CurvatureOptions(**given)
    assert caught.value.option == refused and plan in str(caught.value) and "--" not in str(caught.value)


def test_the_fields_a_plan_reads_are_accepted():
    assert CurvatureOptions(method="slq", tolerance=0.05, max_hvps=100).tolerance == 0.05
    assert CurvatureOptions(method="exact", eta=0.05, epsilon=0.1).eta == 0.05
    assert CurvatureOptions(method="exact", hessian_samples="all").method == "exact"  # 'all' is what exact reads
    # a count is weighed against the data's size once it is known (below)
    assert CurvatureOptions(method="exact", hessian_samples=100).hessian_samples == 100


def test_a_bad_value_names_the_field_as_written():
    with pytest.raises(OptionError, match=r"^method='foo': use default"):
        CurvatureOptions(method="foo")
    with pytest.raises(OptionError, match=r"e\.g\. milestones=\(10, 20\)$"):  # it said "milestones 10,20"
        LompConfig(epochs=30, lr=0.1, schedule="step")


def test_every_config_built_directly_names_fields():
    """The laws' configs said ``--mode static`` and ``--rewind early`` to a notebook."""
    from prunelimit.laws.imp import ImpConfig
    from prunelimit.laws.nplh import NplhConfig
    from prunelimit.pruning.finetune import FinetuneConfig

    for build, said in [(lambda: NplhConfig(mode="pressure", metric="taylor"), "applies to mode='static' or iterative"),
                        (lambda: NplhConfig(rate=0.2), "rate applies to mode='iterative', not static; add mode="),
                        (lambda: ImpConfig(rewind_steps=5), "applies to rewind='early', not init; add rewind='early'"),
                        (lambda: ImpConfig(rewind="early", rewind_steps=0), "^rewind='early' rewinds"),
                        (lambda: FinetuneConfig(schedule="foo"), "^schedule='foo': use none")]:
        with pytest.raises(OptionError, match=said.replace("(", r"\(")) as caught:
            build()
        assert "--" not in str(caught.value)


@pytest.mark.parametrize("given, refused, schedule", [
    (dict(t_max=5), "t_max", "schedule='cosine'"),
    (dict(gamma=0.5), "gamma", "schedule='step'"),
    (dict(schedule="cosine", milestones=(3,)), "milestones", "schedule='step'"),
])
def test_a_setting_of_another_schedule_is_refused_when_built(given, refused, schedule):
    with pytest.raises(OptionError, match=f"^{refused} applies to {schedule}, not "):
        LompConfig(epochs=10, lr=0.1, **given)


def test_a_presets_settings_of_another_schedule_are_dropped_not_refused():
    """alexnet-cifar's step milestones and gamma beside the cosine schedule asked for: unread,
    they go back to their defaults; typed, they are refused."""
    config = lomp_config("alexnet-cifar", schedule="cosine")
    assert (config.schedule, config.milestones, config.gamma, config.l1) == ("cosine", (), 0.1, 3e-5)
    assert lomp_config("resnet18-cifar", schedule="step", milestones=(50,)).t_max is None
    with pytest.raises(OptionError, match="^gamma applies to schedule='step'"):
        lomp_config("alexnet-cifar", schedule="cosine", gamma=0.5)


def test_a_state_saved_with_a_presets_unread_schedule_settings_still_resumes():
    """An older version kept alexnet-cifar's step milestones and gamma beside schedule="cosine"
    in the state it saved; now dropped from the config, they were 'different settings'."""
    import copy

    from prunelimit.errors import UsageError
    from prunelimit.pruning.lomp import check_resume_state

    config = lomp_config("alexnet-cifar", schedule="cosine")
    state = {"epoch": 0, "optimizer": {}, "history": [], "rng": torch.get_rng_state(),
             "config": {**dataclasses.asdict(config), "milestones": [60, 120, 160], "gamma": 0.5}}
    check_resume_state(state, config)
    read = copy.deepcopy(state)
    read["config"]["t_max"] = 100  # cosine reads it: another run
    with pytest.raises(UsageError, match=r"different settings \(t_max\)"):
        check_resume_state(read, config)


def test_the_command_line_names_flags_and_leaves_a_config_key_of_another_plan_unused(cli, tmp_path, small_ckpt):
    """A small model (D = 310) on 200 samples: the exact spectrum in a second."""
    common = ("--max-samples", "200", "--threads", "1", "--no-cache")
    typed = cli("bounds", small_ckpt, "--method", "exact", "--tolerance", "0.05", *common)
    assert typed.exit_code == 2 and "--tolerance has no effect: --method exact" in typed.stderr, typed.stderr
    config = tmp_path / "ci.yaml"
    config.write_text("tolerance: 0.05\n", encoding="utf-8")
    run = cli("bounds", small_ckpt, "--config", config, "--method", "exact", "--json", *common)
    assert run.exit_code == 0, run.stderr


@pytest.mark.parametrize("call", ["spectrum", "bounds", "verify", "gate"])
def test_a_library_call_refuses_an_ignored_option_before_reading_the_data(model, train, call):
    """It built the batches and ran the model on them first (prune refused first already)."""
    import prunelimit

    x, y = train
    read = []

    def batches():
        read.append(True)
        yield x, y

    extra = {"min_ratio": 0.1} if call == "gate" else {}
    with pytest.raises(OptionError, match="^tolerance has no effect: method='exact'"):
        getattr(prunelimit, call)(model, batches(), method="exact", tolerance=0.05, **extra)
    assert read == []


def test_a_count_beside_the_exact_method_is_weighed_against_the_data(model, train):
    """A ``hessian_samples`` count of at least the data's size means all beside the exact
    spectrum, as it does under SLQ: ``hessian_samples=100000`` on 300 samples was refused as
    having no effect, whatever the data's size. A count below it stays refused, naming both."""
    import prunelimit

    found = prunelimit.spectrum(model, train, method="exact", hessian_samples=100_000)
    assert found.solver == "exact" and not any("hessian_samples" in note for note in found.notes)
    with pytest.raises(OptionError, match=r"^hessian_samples 299 has no effect: method='exact' computes every "
                                          r"eigenvalue from all 300 samples of the data; drop it, or use "
                                          r"method='slq'$") as caught:
        prunelimit.bounds(model, train, method="exact", hessian_samples=299)
    assert caught.value.option == "hessian_samples"
