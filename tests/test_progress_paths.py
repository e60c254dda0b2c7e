"""Every long path of the CLI reports its work to a progress bar: recorded here through the
bar's ``advance`` (a fake sink) rather than read off a terminal."""

from __future__ import annotations

import contextlib

import pytest
import torch


@pytest.fixture
def bars(monkeypatch):
    """The bars the CLI shows (without --json): ``{description: [(done, total), …]}``."""
    from prunelimit.cli import laws, limit, pruning

    seen: dict[str, list[tuple[int, int | None]]] = {}

    @contextlib.contextmanager
    def recording(description, total, enabled=True, **_):
        calls = seen.setdefault(description, []) if enabled else []
        yield lambda n=1, total=None, text=None, absolute=False, left=None: calls.append((n, total))

    for module in (laws, limit, pruning):
        monkeypatch.setattr(module, "progress", recording, raising=False)
    return seen


def test_prune_counts_its_fine_tuning_and_opens_no_curvature_bar_for_a_given_ratio(cli, own_ckpt, tmp_path, bars):
    """`prune --finetune-epochs N` trained with no bar at all, and a given --ratio, which
    needs no spectrum, drew an empty 'curvature 0/?' bar meanwhile."""
    result = cli("prune", own_ckpt, "--ratio", "0.5", "--finetune-epochs", "2", "--max-samples", "256",
                 "--batch-size", "64", "-o", tmp_path / "pruned.pt")
    assert result.exit_code == 0, result.stderr
    assert "curvature" not in bars
    done, steps = bars["fine-tuning"][-1]
    assert done == steps >= 2 and [n for n, _ in bars["fine-tuning"]] == list(range(1, steps + 1))


def test_imp_counts_its_levels(cli, tmp_path, bars):
    """`imp` trained level after level (minutes each on a real model) with no bar at all."""
    result = cli("imp", "mlp:64,16,10", "--data", "digits:train", "--max-samples", "128", "--levels", "2",
                 "--epochs", "1", "-o", tmp_path / "imp")
    assert result.exit_code == 0, result.stderr
    assert bars["IMP levels"] == [(1, 3), (2, 3), (3, 3)]  # level 0 (dense), then 2 pruning levels


def test_hyperflux_counts_its_epochs(cli, tmp_path, bars):
    """`hyperflux` trained its pressure and regrowth epochs (50 by default) with no bar at all."""
    result = cli("hyperflux", "--model", "mlp:64,16,10", "--data", "digits:train", "--max-samples", "128",
                 "--target-density", "0.5", "--pruning-epochs", "3", "--regrowth-epochs", "1",
                 "--gate-lr", "0.2", "-o", tmp_path / "hf.pt")  # 3 steps of 0.2: past the 0.35 half the gates need
    assert result.exit_code == 0, result.stderr
    assert bars["Hyperflux epochs"] == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_the_library_hyperflux_reports_its_epochs_as_train_and_imp_do():
    """`prunelimit.hyperflux(...)` took no progress callback (train and imp did): a notebook
    had no way to follow its 50 default epochs."""
    import torch

    import prunelimit
    from prunelimit.errors import OptionError

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    data = (torch.randn(64, 64), torch.arange(64) % 10)
    seen = []
    prunelimit.hyperflux(model, data, 0.5, pruning_epochs=3, regrowth_epochs=1, gate_lr=0.2,
                         progress=lambda epoch, epochs: seen.append((epoch, epochs)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    with pytest.raises(OptionError, match="^progress must be a function or None, got int 3"):
        prunelimit.hyperflux(model, data, 0.5, progress=3)


@pytest.fixture
def texts(monkeypatch):
    """Every ``advance`` of the bars the CLI shows, with its status: ``[(description, done, total, text), …]``."""
    from prunelimit.cli import laws, limit, pruning

    seen: list[tuple[str, int, int | None, str | None]] = []

    @contextlib.contextmanager
    def recording(description, total, enabled=True, **_):
        yield lambda n=1, total=None, text=None, absolute=False, left=None: seen.append((description, n, total, text))

    for module in (laws, limit, pruning):
        monkeypatch.setattr(module, "progress", recording, raising=False)
    return seen


def test_a_search_without_a_spectrum_is_labelled_by_what_it_does(cli, own_ckpt, tmp_path, texts):
    """`gate --use actual` and `verify --from` run only the actual-limit search, under a bar
    labelled "curvature"."""
    small = ("--max-samples", "256", "--batch-size", "64", "--no-cache")
    result = cli("gate", own_ckpt, "--use", "actual", "--min-ratio", "0.1", *small)
    assert result.exit_code in (0, 1), result.stderr
    bounds = tmp_path / "bounds.json"
    bounds.write_text(cli("bounds", own_ckpt, *small, "--json").stdout)
    texts.clear()  # the bounds run's own curvature bar
    result = cli("verify", own_ckpt, "--from", bounds, *small)
    assert result.exit_code == 0, result.stderr
    labels = {description for description, *_ in texts}
    assert labels == {"actual-limit search"}, labels


def test_verify_refit_counts_its_fine_tuning_steps(cli, own_ckpt, texts):
    """`verify --refit` fine-tuned every probed ratio (epochs each) with the bar standing at the
    end of the one-shot search."""
    result = cli("verify", own_ckpt, "--refit", "--finetune-epochs", "1", "--max-samples", "128", "--batch-size",
                 "64", "--no-cache")
    assert result.exit_code == 0, result.stderr
    refit = [(done, total) for _, done, total, text in texts if text == "refit search: fine-tuning steps"]
    assert refit, texts[-3:]
    steps = [done for done, _ in refit[:-1]]
    assert steps == list(range(1, len(refit)))  # counted on from ratio to ratio
    assert refit[-1] == (steps[-1], steps[-1])  # and ended at its total: the search settled short of its most
    assert all(done <= total for done, total in refit)


def test_a_cache_hit_draws_no_bar(cli, own_ckpt, tmp_path, monkeypatch):
    """A spectrum read from the cache flashed an empty 'curvature 0/910' bar: the bar was drawn
    before anything knew whether there was work."""
    import io

    from rich.console import Console

    from prunelimit.report import progress

    out = io.StringIO()
    monkeypatch.setattr(progress, "Console", lambda **_: Console(file=out, force_terminal=True, width=120,
                                                                  color_system=None, _environ={"TERM": "xterm"}))
    run = ("spectrum", own_ckpt, "--max-samples", "128", "--cache-dir", tmp_path / "cache")
    assert cli(*run).exit_code == 0 and "curvature" in out.getvalue()  # computed: a bar
    out.seek(0), out.truncate()
    assert cli(*run).exit_code == 0
    assert out.getvalue() == ""  # read from the cache: no work, no bar


def test_the_dense_eigenvalue_stage_is_a_stage_of_its_own():
    """After the last exact column the bar read 100 % and eta 0:00:00 through the eigenvalue
    solve (tens of seconds at D ≈ 10k): the stage is now reported with total 0, a stage that
    cannot count its work, and the bar pulses with no count and no ETA."""
    import torch

    import prunelimit

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    data = (torch.randn(64, 8), torch.arange(64) % 3)
    seen = []
    prunelimit.spectrum(model, data, method="exact", progress=lambda done, total=None, text=None:
                        seen.append((done, total, text)))
    stage = [call for call in seen if call[2] and call[2].startswith("eigenvalues of the dense Hessian")]
    assert [(done, total) for done, total, _ in stage] == [(0, 0)], seen


def test_a_gate_on_the_measured_limit_alone_counts_its_search(cli, own_ckpt, texts, model, train):
    """A gate whose rules all use the measured limit runs the actual-limit search alone (no
    spectrum), and it called ``progress`` not once: its bar stood empty, and the library's
    ``progress=`` heard nothing of the whole run. Its passes are counted as verify counts them."""
    result = cli("gate", own_ckpt, "--use", "actual", "--min-ratio", "0.1", "--max-samples", "256", "--batch-size",
                 "64", "--no-cache")
    assert result.exit_code in (0, 1), result.stderr
    assert [text for *_, text in texts] and {text for *_, text in texts} == {"actual-limit search: passes"}
    import prunelimit

    heard: list[tuple[int, int | None, str | None]] = []
    prunelimit.gate(model, train, min_ratio=0.1, use="actual",
                    progress=lambda done, total=None, text=None: heard.append((done, total, text)))
    assert heard and {text for *_, text in heard} == {"actual-limit search: passes"}
    assert all(0 < done <= total for done, total, _ in heard)
    assert [done for done, *_ in heard] == sorted(done for done, *_ in heard)


@pytest.mark.parametrize("quiet", [False, True])
def test_a_log_follows_the_spectrum_unless_quiet(cli, own_ckpt, monkeypatch, quiet):
    """`bounds` with stderr to a log (here every product's line: no wait before the first, none
    between) writes progress lines there, beside --json, whose stdout stays the document
    alone; --quiet leaves only warnings and errors on stderr."""
    import json

    from prunelimit.report import progress

    monkeypatch.setattr(progress, "LOG_AFTER_S", 0.0)
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)
    result = cli("bounds", own_ckpt, "--method", "slq", "--max-samples", "256", "--no-cache", "--json",
                 *(["--quiet"] if quiet else []))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["schema"].startswith("prunelimit.bounds/")
    lines = [line for line in result.stderr.splitlines() if line.startswith("prunelimit: curvature")]
    if quiet:
        assert lines == [], lines
    else:
        assert any("elapsed 0:00:" in line and ", eta " in line and "ρ* " in line for line in lines), lines


def test_the_data_check_counts_the_products_its_parts_take():
    """CE on a linear model: its Hessian is the Gauss–Newton one, of rank at most 2 a sample
    with 3 classes, so each 12-sample set of the data check (a 16-sample curvature subset
    less one of its 4 parts) spans far fewer directions (24) than the runs' 63 steps (D = 63)
    and its run ends short. The bar counted every set as the full steps (on the parts alone,
    with 5 features: it ended at 86 of 90 having done 74). It now goes on from the products
    the sets took and ends at its total, which is the products spent."""
    import prunelimit

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(200, 20, generator=g), torch.randint(0, 3, (200,), generator=g)
    torch.manual_seed(0)
    calls = []
    result = prunelimit.bounds(torch.nn.Linear(20, 3), (x, y), method="slq", hessian_samples=16,
                               progress=lambda done, total=None, text=None: calls.append((done, total, text)))
    stages = result.spectrum.timing_json()["stages"]
    # the 2 products measuring the float32 ones against float64 come first (data_passes)
    spent = stages["data_passes"]["hvps"] + stages["lanczos"]["hvps"] + stages["data_check"]["hvps"]
    check = [(done, total) for done, total, text in calls if (text or "").startswith("data check on the subset's parts")]
    assert stages["data_check"]["hvps"] < 4 * result.spectrum.iterations  # the sets' runs ended short
    assert all(done <= total for done, total in check)
    assert check[-1] == (spent, spent)


def test_trace_top_ups_the_time_budget_stops_end_the_bar_where_they_stopped():
    """Fewer runs than 8 are topped up with Hutchinson probes, which a time budget stops
    after the first: the bar stayed at 1 of 7 (its total never met). It now ends at the
    products made."""
    from prunelimit.api import curvature
    from prunelimit.api.options import CurvatureOptions
    from prunelimit.curvature.operator import DenseOperator
    from prunelimit.curvature.slq import slq

    g = torch.Generator().manual_seed(0)
    a = torch.randn(30, 30, generator=g, dtype=torch.float64)
    op = DenseOperator(a @ a.T)
    quad = slq(op, 5, 1, 0, "h")  # one run of 5 steps: 7 top-ups wanted
    calls = []
    curvature._slq_trace(op, quad, CurvatureOptions(), None, lambda: True,
                         lambda done, total=None, text=None, left=None: calls.append((done, total)), quad.hvps)
    assert calls[0] == (quad.hvps + 1, quad.hvps + 7)
    assert calls[-1] == (quad.hvps + 1, quad.hvps + 1)
