"""Each command end to end through the CLI, checked against independent computations."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.load import load_model


def _json(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def least_squares(tmp_path):
    """A linear model y = Wx + b with MSE loss: the Hessian is 2·[X 1]ᵀ[X 1]/n exactly."""
    gen = torch.Generator().manual_seed(0)
    n, d = 96, 6
    x = torch.randn(n, d, generator=gen, dtype=torch.float64) * torch.linspace(0.2, 3, d, dtype=torch.float64)
    y = x @ torch.randn(d, generator=gen, dtype=torch.float64) + 0.1 * torch.randn(n, generator=gen, dtype=torch.float64)
    data = tmp_path / "ls.pt"
    torch.save({"x": x.float(), "y": y.float()[:, None]}, data)
    model = torch.nn.Linear(d, 1)
    with torch.no_grad():  # least-squares solution, so the model sits at the minimum
        design = torch.cat([x, torch.ones(n, 1, dtype=torch.float64)], 1)
        sol = torch.linalg.lstsq(design, y[:, None]).solution
        model.weight.copy_(sol[:d].T)
        model.bias.copy_(sol[d])
    ckpt = tmp_path / "ls-model.pt"
    save_checkpoint(ckpt, f"mlp:{d},1", {f"0.{k}": v for k, v in model.state_dict().items()})
    return ckpt, data, x.float().double(), design.float().double()


def test_bounds_exact_matches_closed_form_least_squares(cli, least_squares):
    """F and ρ* from the closed-form Hessian 2XᵀX/n match the command to 1e-6 relative.

    Tolerance: the command works in float64 from float32 weights and data, as does this
    oracle, so only rounding of the eigensolvers and root finders differs.
    """
    ckpt, data, _, design = least_squares
    eps = 0.05
    doc = _json(cli("bounds", ckpt, "--data", f"tensors:{data}", "--loss", "mse", "--method", "exact",
                    "--epsilon", eps, "--batch-size", 32, "--json"))
    hessian = 2 * design.T @ design / design.shape[0]
    lam = np.linalg.eigvalsh(hessian.numpy())
    assert doc["spectrum"]["lambda_max"] == pytest.approx(lam.max(), rel=1e-6)
    assert doc["spectrum"]["trace"] == pytest.approx(lam.sum(), rel=1e-6)
    w = np.sort(np.abs(load_model(ckpt).model[0].weight.detach().double().numpy().ravel()))
    n = w.size

    def radius(rho):  # prefix sums interpolated linearly in ρ·N, as the tool defines R on continuous ρ
        cum = np.concatenate([[0], np.cumsum(w**2)])
        pos = rho * n
        k = min(int(pos), n - 1)
        return np.sqrt(cum[k] + (pos - k) * (cum[k + 1] - cum[k]))

    def fraction(r):
        return np.mean(2 * eps / (2 * eps + np.abs(lam) * r**2))

    rho = brentq(lambda r: fraction(radius(r)) - r, 0, 1, xtol=1e-14)
    assert doc["prediction"]["ratio"] == pytest.approx(rho, rel=1e-6)
    shift = np.sqrt(8 * np.log(4 / 0.01)) / np.sqrt(lam.size)
    lower = max(brentq(lambda r: fraction(radius(r)) - shift - r, 0, 1, xtol=1e-14), 0) if 1 - shift > 0 else 0.0
    assert doc["bounds"]["lower"] == pytest.approx(lower, abs=1e-9)
    assert doc["params"] == {"hessian": 7, "prunable": 6}


def test_slq_extremes_and_trace_come_from_the_runs_least_squares(cli, least_squares):
    """SLQ's trace is Hutchinson's estimator over its own probes, topped up to 8 probes; runs
    on the recomputing engine go in lockstep, and the memory report says so. Runs that span
    the whole space (D = 7 steps at D = 7, no breakdown) hold H's D eigenvalues: the extremes
    and the trace are then exact, with no top-up and no standard error.

    float32 HVPs bound the agreement with float64 linear algebra (1e-5 relative).
    """
    from prunelimit.curvature.operator import DenseOperator
    from prunelimit.curvature.trace import hutchinson_samples, trace_estimate

    ckpt, data, _, design = least_squares
    hessian = 2 * design.T @ design / design.shape[0]
    lam = np.linalg.eigvalsh(hessian.numpy())

    def spectrum(steps: int) -> dict:
        return _json(cli("spectrum", ckpt, "--data", f"tensors:{data}", "--loss", "mse", "--method", "paper",
                         "--iterations", steps, "--runs", 3, "--hvp", "revrev", "--json"))

    whole = spectrum(7)
    assert whole["spectrum"]["lambda_max"] == pytest.approx(lam.max(), rel=1e-5)
    assert whole["spectrum"]["lambda_min"] == pytest.approx(lam.min(), rel=1e-5)
    assert whole["spectrum"]["trace"] == pytest.approx(lam.sum(), rel=1e-5)
    assert whole["spectrum"]["trace_stderr"] == 0 and whole["spectrum"]["trace_plus_minus"] == 0
    assert whole["timing"]["hvps"] == 3 * 7

    doc = spectrum(4)
    assert lam.min() - 1e-5 <= doc["spectrum"]["lambda_min"] <= doc["spectrum"]["lambda_max"] <= lam.max() + 1e-5
    slq_probes = hutchinson_samples(DenseOperator(hessian), 3, seed=0)  # the seed's first draws, as SLQ's
    top_up = hutchinson_samples(DenseOperator(hessian), 5, seed=2)  # --seed 0 + 2
    # the runs' ‖Hz‖² come from their first Lanczos step, the top-up's from their products
    hutchinson = trace_estimate(np.concatenate([slq_probes.estimates, top_up.estimates]),
                                np.concatenate([slq_probes.squares, top_up.squares]))
    assert doc["spectrum"]["trace"] == pytest.approx(hutchinson.value, rel=1e-5)
    assert doc["spectrum"]["trace_stderr"] == pytest.approx(hutchinson.stderr, rel=1e-4)
    assert doc["spectrum"]["trace_plus_minus"] == pytest.approx(hutchinson.plus_minus, rel=1e-4)
    assert doc["timing"]["hvps"] == 3 * 4 + 5
    memory = doc["memory"]
    assert memory["hvp_engine"] == "revrev"
    assert memory["basis_kind"] == "3 Lanczos bases (runs in lockstep), float32"
    assert memory["basis_mb"] == pytest.approx(3 * 4 * 7 * 4 / 2**20)


def test_memory_budget_picks_the_engine(cli, own_ckpt, tmp_path):
    """Graphs over ``--memory-budget`` are rebuilt per product (``revrev``) instead of kept;
    the two engines give the same limit to float32 rounding (both products equal the
    reference HVP, tests/curvature/test_engines.py). A YAML number works as well."""
    common = ("--method", "paper", "--iterations", 20, "--runs", 2, "--json", "--max-samples", 300)
    kept = _json(cli("bounds", own_ckpt, *common))
    rebuilt = _json(cli("bounds", own_ckpt, *common, "--memory-budget", "0.01"))
    assert kept["memory"]["hvp_engine"] == "cached"
    assert rebuilt["memory"]["hvp_engine"] == "revrev"
    assert rebuilt["memory"]["basis_kind"] == "2 Lanczos bases (runs in lockstep), float32"
    # 20 float32 Lanczos steps amplify product rounding (~1e-7) little at this size; 1e-4 is wide.
    assert rebuilt["prediction"]["continuous_ratio"] == pytest.approx(kept["prediction"]["continuous_ratio"], abs=1e-4)
    config = tmp_path / "budget.yaml"
    config.write_text("bounds:\n  memory-budget: 0.01\n")
    assert _json(cli("bounds", own_ckpt, *common, "--config", config))["memory"]["hvp_engine"] == "revrev"


def test_default_method_is_exact_for_small_models_and_paper_differs(cli, own_ckpt):
    exact = _json(cli("bounds", own_ckpt, "--method", "exact", "--json", "--max-samples", 300))
    default = _json(cli("bounds", own_ckpt, "--json", "--max-samples", 300))
    assert default["prediction"]["ratio"] == exact["prediction"]["ratio"]
    assert default["spectrum"]["solver"] == "exact"
    paper = _json(cli("bounds", own_ckpt, "--method", "paper", "--iterations", 20, "--json", "--max-samples", 300))
    assert paper["spectrum"]["solver"] == "slq-h" and paper["timing"]["hvps"] > 0
    assert paper["prediction"]["ratio"] == pytest.approx(round(paper["prediction"]["ratio"] * 1000) / 1000)


def test_bounds_json_has_spec_keys(cli, own_ckpt):
    doc = _json(cli("bounds", own_ckpt, "--json", "--max-samples", 300))
    for path in ("params.hessian", "params.prunable", "loss", "epsilon", "spectrum.lambda_max",
                 "spectrum.lambda_min", "spectrum.trace", "spectrum.runs", "spectrum.iterations",
                 "prediction.ratio", "prediction.density", "prediction.radius", "bounds.lower", "bounds.upper",
                 "bounds.eta", "timing.seconds", "timing.hvps"):
        node = doc
        for key in path.split("."):
            node = node[key]
    assert doc["schema"] == "prunelimit.bounds/1"
    assert doc["prediction"]["density"] == pytest.approx(1 - doc["prediction"]["ratio"])
    assert doc["bounds"]["lower"] <= doc["prediction"]["ratio"] <= doc["bounds"]["upper"]


def test_prune_records_the_data_it_was_given_so_the_next_command_needs_no_data(cli, tiny_model, tmp_path):
    """As it records the loss: a typed --data on a file that records none is written into the
    pruned file, and ``verify`` on it runs without --data (it said "no data" before)."""
    weights = tmp_path / "w.pt"
    torch.save(tiny_model.state_dict(), weights)
    out = tmp_path / "p.pt"
    assert cli("prune", weights, "--model", "mlp:64,12,10", "--data", "digits:train", "--ratio", "0.3",
               "-o", out).exit_code == 0
    assert load_model(out).meta["data"] == "digits:train"
    doc = _json(cli("verify", out, "--method", "paper", "--iterations", 8, "--runs", 1, "--max-samples", 200,
                    "--json", "--no-cache"))
    assert 0 <= doc["actual"]["loss_ratio"] < 1


def test_spectrum_and_plots(cli, own_ckpt, tmp_path):
    doc = _json(cli("spectrum", own_ckpt, "--method", "paper", "--iterations", 15, "--runs", 2, "--json",
                    "--max-samples", 300, "--plot", tmp_path / "s.png"))
    assert len(doc["probes"]) == 2 and abs(sum(doc["probes"][0]["weights"]) - 1) < 1e-9
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    result = cli("bounds", own_ckpt, "--max-samples", 300, "--plot", tmp_path / "b.png")
    assert result.exit_code == 0 and (tmp_path / "b.png").stat().st_size > 1000


def test_prune_removes_ceil_and_writes_every_format(cli, own_ckpt, tmp_path):
    out = tmp_path / "p.pt"
    doc = _json(cli("prune", own_ckpt, "--ratio", "0.37", "-o", out, "--format", "torch-prune",
                    "--format", "safetensors", "--json", "--max-samples", 200))
    n = 64 * 12 + 12 * 10
    assert sum(l["zeros"] for l in doc["layers"]) == int(np.ceil(0.37 * n))
    assert doc["ratio"]["requested"] == 0.37 and doc["after"]["loss"] is not None
    pruned = load_model(out)
    assert int(sum((~m).sum() for m in pruned.masks.values())) == int(np.ceil(0.37 * n))
    via_torch_prune = load_model(tmp_path / "p.prune.pt", "mlp:64,12,10")
    via_safetensors = load_model(tmp_path / "p.safetensors", "mlp:64,12,10")
    for other in (via_torch_prune, via_safetensors):
        assert torch.equal(other.model[0].weight, pruned.model[0].weight)
    assert cli("prune", own_ckpt, "--ratio", "0.5", "-o", out).exit_code == 2  # exists, no --force


def test_a_format_named_twice_is_written_once(cli, own_ckpt, tmp_path):
    """--format torch-prune twice (or prunelimit, which -o always is) is one file: it wrote the
    file, then refused its own second copy with "already exists" and removed both."""
    out = tmp_path / "p.pt"
    doc = _json(cli("prune", own_ckpt, "--ratio", "0.5", "-o", out, "--format", "torch-prune", "--format",
                    "torch-prune", "--format", "prunelimit", "--json"))
    assert doc["formats"] == [str(out), str(tmp_path / "p.prune.pt")]
    assert out.is_file() and (tmp_path / "p.prune.pt").is_file()


def test_pruning_a_pruned_file_keeps_its_masks_through_fine_tuning(cli, own_ckpt, tmp_path):
    # a lower ratio than the file already has: what it removed stays removed, in the masks and
    # in the weights, even where fine-tuning would move those weights off zero
    _json(cli("prune", own_ckpt, "--ratio", "0.6", "-o", tmp_path / "p1.pt", "--json"))
    doc = _json(cli("prune", tmp_path / "p1.pt", "--ratio", "0.3", "--finetune-epochs", 1, "--finetune-lr", 0.1,
                    "--max-samples", 200, "-o", tmp_path / "p2.pt", "--format", "torch-prune", "--json"))
    first, second = load_model(tmp_path / "p1.pt"), load_model(tmp_path / "p2.pt")
    via_torch_prune = load_model(tmp_path / "p2.prune.pt", "mlp:64,12,10")
    for name, removed in ((n, ~m) for n, m in first.masks.items()):
        assert not second.masks[name][removed].any() and not via_torch_prune.masks[name][removed].any()
        assert (second.model.state_dict()[name][removed] == 0).all()
    n = 64 * 12 + 12 * 10
    assert doc["ratio"]["achieved"] == pytest.approx(sum(l["zeros"] for l in doc["layers"]) / n)
    assert doc["ratio"]["achieved"] >= int(np.ceil(0.6 * n)) / n


def test_prune_auto_uses_saved_bounds_report(cli, own_ckpt, tmp_path):
    report = tmp_path / "b.json"
    # what every reader of --from needs (D of mlp:64,12,10: 64·12 + 12 + 12·10 + 10)
    report.write_text(json.dumps({"schema": "prunelimit.bounds/1", "epsilon": 0.01, "params": {"hessian": 910},
                                  "spectrum": {"trace": 1.0}, "prediction": {"ratio": 0.25, "radius": 1.0},
                                  "bounds": {"lower": 0.125}}))
    doc = _json(cli("prune", own_ckpt, "--ratio", "lower", "--from", report, "-o", tmp_path / "p.pt", "--json"))
    assert doc["ratio"]["requested"] == 0.125


def test_prune_auto_carries_the_warnings_of_its_prediction(cli, own_ckpt, tmp_path):
    """``--ratio auto`` prunes to the ρ* that bounds computes, so bounds' warnings on it (an
    untrained, not l1-shaped model: ρ* overshoots) come with the pruning, in the command's
    JSON and in the library's result; a given number computes no prediction and has none."""
    import prunelimit
    from prunelimit.models.load import load_model

    doc = _json(cli("prune", own_ckpt, "--ratio", "auto", "--max-samples", 300, "--method", "exact",
                    "-o", tmp_path / "p.pt", "--json"))
    assert any("does not look l1-trained" in w for w in doc["warnings"])
    given = _json(cli("prune", own_ckpt, "--ratio", "0.5", "-o", tmp_path / "q.pt", "--json"))
    assert not any("l1-trained" in w for w in given["warnings"])
    model = load_model(own_ckpt).model
    x, y = torch.randn(64, 64), torch.randint(0, 10, (64,))
    auto = prunelimit.prune(model, "auto", (x, y), batch_size=16, method="exact")
    assert any("does not look l1-trained" in w for w in auto.warnings) and "warnings" in auto.to_json()
    assert prunelimit.prune(model, 0.5).warnings == ()


@pytest.mark.parametrize("ratio", ["1.0", "-0.1", "1.5", "abc", "nan"])
def test_prune_rejects_bad_ratios(cli, own_ckpt, tmp_path, ratio):
    result = cli("prune", own_ckpt, "--ratio", ratio, "-o", tmp_path / "p.pt")
    assert result.exit_code == 2 and not (tmp_path / "p.pt").exists()


def test_verify_json_keys_and_delta(cli, own_ckpt):
    doc = _json(cli("verify", own_ckpt, "--eval-data", "digits:test", "--json", "--max-samples", 300))
    assert doc["schema"] == "prunelimit.verify/1"
    assert doc["delta"] == pytest.approx(doc["prediction"]["ratio"] - doc["actual"]["loss_ratio"])
    assert doc["actual"]["evaluations"] <= 2 * 17 and 0 <= doc["actual"]["accuracy_ratio"] < 1


def test_train_resume_after_interrupt_equals_uninterrupted(cli, tmp_path):
    from prunelimit import api
    from prunelimit.pruning.lomp import LompConfig

    common = ["--model", "mlp:64,8,10", "--data", "digits:train", "--max-samples", 256, "--lr", 0.05, "--l1", 1e-3,
              "--epochs", 4]
    full, part = tmp_path / "full.pt", tmp_path / "part.pt"
    assert cli("train", *common, "-o", full).exit_code == 0

    def interrupt(step, total):  # 2 steps an epoch: stop inside epoch 3
        if step == 5:
            raise KeyboardInterrupt

    config = LompConfig(epochs=4, lr=0.05, l1=1e-3)
    with pytest.raises(KeyboardInterrupt):
        api.train("mlp:64,8,10", "digits:train", part, config, max_samples=256, device="cpu", progress=interrupt)
    assert len(load_model(part).meta["train_state"]["history"]) == 2
    doc = _json(cli("train", *common, "-o", part, "--resume", "--json"))
    assert len(doc["history"]) == 4
    a, b = load_model(full).model.state_dict(), load_model(part).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def _gate(cli, ckpt, cache, *args):
    return cli("gate", ckpt, "--max-samples", 300, "--cache-dir", cache, *args)


def test_gate_pass_fail_exit_zero_and_junit(cli, own_ckpt, tmp_path):
    cache = tmp_path / "cache"
    doc = _json(_gate(cli, own_ckpt, cache, "--min-ratio", 0.0, "--json"))
    lower = doc["measured"]
    assert doc["passed"] and doc["threshold"] == 0.0 and doc["reason"] == "all rules passed"
    failed = _gate(cli, own_ckpt, cache, "--min-ratio", min(lower + 0.05, 1.0), "--junit", tmp_path / "j.xml")
    assert failed.exit_code == 1 and "FAIL" in failed.stdout
    root = ET.parse(tmp_path / "j.xml").getroot()
    assert root.find("testsuite").get("failures") == "1" and root.find(".//failure") is not None
    # the run's warnings reach the CI page, as the console prints them
    assert doc["warnings"], "the check below needs a run with warnings"
    assert [p.get("value") for p in root.findall("testsuite/properties/property[@name='warning']")] == doc["warnings"]
    # after the estimate, solver and cost lines the console prints above them
    lines = root.find("testsuite/system-out").text.splitlines()
    assert lines[-len(doc["warnings"]):] == [f"warning: {w}" for w in doc["warnings"]]
    assert _gate(cli, own_ckpt, cache, "--min-ratio", 1.0, "--exit-zero").exit_code == 0


def test_gate_error_rewrites_its_junit_report_as_an_error(cli, own_ckpt, tmp_path):
    """A gate that ends in an error (exit 2 or 3) leaves a JUnit report of one errored case,
    not the passing verdict an earlier run wrote; a --junit path the output checks refuse
    (here the checkpoint itself) is never written."""
    junit = tmp_path / "j.xml"
    assert _gate(cli, own_ckpt, tmp_path / "c", "--min-ratio", 0.0, "--junit", junit).exit_code == 0
    assert ET.parse(junit).getroot().get("errors") == "0"
    for args, code in ((["--min-ratio", 0.5, "--bound-mode", "none"], 2), (["--min-ratio", 0.5, "--data", "tensors:nope.pt"], 3)):
        errored = _gate(cli, own_ckpt, tmp_path / "c", *args, "--junit", junit)
        assert errored.exit_code == code
        root = ET.parse(junit).getroot()
        assert root.get("errors") == "1" and root.find(".//failure") is None
        assert root.find(".//error").get("message") in errored.stderr
    before = Path(own_ckpt).read_bytes()
    assert _gate(cli, own_ckpt, tmp_path / "c", "--min-ratio", 0.5, "--junit", own_ckpt).exit_code == 2
    assert Path(own_ckpt).read_bytes() == before


def test_gate_cache_hit_costs_no_hvps_and_misses_after_change(cli, own_ckpt, tmp_path, monkeypatch):
    from prunelimit.api import curvature as curvature_api

    cache = tmp_path / "cache"
    first = _json(_gate(cli, own_ckpt, cache, "--min-ratio", 0.0, "--json"))
    assert first["cache_hit"] is False

    def forbidden(*args, **kwargs):
        raise AssertionError("spectrum recomputed on an unchanged model")

    monkeypatch.setattr(curvature_api, "spectrum", forbidden)
    second = _json(_gate(cli, own_ckpt, cache, "--min-ratio", 0.0, "--json"))
    assert second["cache_hit"] is True and second["measured"] == first["measured"]
    monkeypatch.undo()
    loaded = load_model(own_ckpt)
    with torch.no_grad():
        loaded.model[0].weight.mul_(2)
    save_checkpoint(own_ckpt, loaded.spec, loaded.model.state_dict(), meta=loaded.meta, force=True)
    third = _json(_gate(cli, own_ckpt, cache, "--min-ratio", 0.0, "--json"))
    assert third["cache_hit"] is False and third["measured"] != first["measured"]


def test_gate_baseline_drop_and_yaml_policy(cli, own_ckpt, tmp_path):
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"prediction": {"ratio": 0.99}, "bounds": {"lower": 0.99}}))
    dropped = _gate(cli, own_ckpt, tmp_path / "c", "--baseline", base, "--max-drop", 0.01, "--json")
    assert dropped.exit_code == 1 and "exceeds" in json.loads(dropped.stdout)["reason"]
    policy = tmp_path / "gate.yaml"
    policy.write_text(
        "max_samples: 300\n"
        "gate:\n"
        "  rules:\n"
        "    - {name: floor, min_ratio: 0.0}\n"
        f"    - {{name: no-regression, baseline: {base}, max_drop: 0.01, use: predicted}}\n"
    )
    result = cli("gate", own_ckpt, "--config", policy, "--cache-dir", tmp_path / "c", "--json")
    rules = json.loads(result.stdout)["rules"]
    assert result.exit_code == 1 and [r["name"] for r in rules] == ["floor", "no-regression"]
    assert [r["passed"] for r in rules] == [True, False]


@pytest.mark.parametrize(
    "args, code",
    [(["--min-ratio", "1.5"], 2), ([], 2), (["--baseline", "missing.json", "--max-drop", "0.1"], 3),
     (["--max-drop", "0.1"], 2)],
)
def test_gate_usage_errors(cli, own_ckpt, tmp_path, args, code):
    assert cli("gate", own_ckpt, "--cache-dir", tmp_path, *args).exit_code == code


def test_law_nplh_fit_recovers_synthetic_law(cli, tmp_path):
    rng = np.random.default_rng(0)
    gamma = np.logspace(-3, 1, 40)
    density = np.clip(0.05 * gamma**-0.8 * np.exp(rng.normal(0, 0.01, gamma.size)), 1e-4, 1)
    csv = tmp_path / "p.csv"
    csv.write_text("density,gamma\n" + "".join(f"{d},{g}\n" for d, g in zip(density, gamma)))
    doc = _json(cli("law", "nplh-fit", csv, "--json", "--plot", tmp_path / "n.png"))
    assert doc["alpha0"] == pytest.approx(0.8, rel=0.02) and doc["c"] == pytest.approx(0.05, rel=0.05)
    assert (tmp_path / "n.png").exists()


def test_imp_feeds_error_fit(cli, tmp_path):
    out = tmp_path / "imp"
    doc = _json(cli("imp", "mlp:64,16,10", "--data", "digits:train", "--eval-data", "digits:test",
                    "--levels", 5, "--rate", 0.5, "--epochs", 3, "-o", out, "--json"))
    assert [r["level"] for r in doc["rows"]] == list(range(6))
    fit = cli("law", "error-fit", out / "imp.csv", "--json")
    assert fit.exit_code == 0, fit.stderr
    assert {"eps_np", "eps_up", "gamma", "p"} <= set(json.loads(fit.stdout)["params"])
    # every level's checkpoint loads as it is (it needed --model: the spec was not recorded), with
    # the CSV's density in its masks and its weights, and the data it was trained on
    for row in doc["rows"]:
        loaded = load_model(out / f"level_{row['level']:03d}.pt")
        masks, state = loaded.masks, loaded.model.state_dict()
        kept = sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())
        assert kept == row["density"] and loaded.spec == "mlp:64,16,10"
        assert all(int((state[k] != 0).sum()) <= int(m.sum()) for k, m in masks.items())
        assert loaded.recorded_spec("eval_data") == "digits:test"


def test_imp_from_a_pruned_file_starts_at_its_density(cli, own_ckpt, tmp_path):
    _json(cli("prune", own_ckpt, "--ratio", "0.5", "-o", tmp_path / "p.pt", "--json"))
    doc = _json(cli("imp", tmp_path / "p.pt", "--levels", 1, "--rate", 0.5, "--epochs", 1, "--max-samples", 200,
                    "-o", tmp_path / "imp", "--json"))
    assert [r["density"] for r in doc["rows"]] == [0.5, 0.25]  # not 1.0 and 0.5: what p.pt pruned stays pruned
    assert doc["density"] == 0.25  # the summary's final density: the last level's (it had none)
    shown = cli("imp", tmp_path / "p.pt", "--levels", 1, "--rate", 0.5, "--epochs", 1, "--max-samples", 200,
                "-o", tmp_path / "imp")  # resumed: the same sweep, on the console
    assert shown.exit_code == 0 and "Final density 25.00 % at level 1" in shown.stdout


def test_hyperflux_command(cli, tmp_path):
    doc = _json(cli("hyperflux", "--model", "mlp:64,32,10", "--data", "digits:train", "--eval-data", "digits:test",
                    "--target-density", 0.2,
                    "--pruning-epochs", 15, "--regrowth-epochs", 3, "-o", tmp_path / "hf.pt", "--json",
                    "--log", tmp_path / "log.csv"))
    # the JSON log is the --log CSV (it lacked the target and loss columns), and ends at the file's density
    import csv

    rows = list(csv.DictReader((tmp_path / "log.csv").open()))
    assert [list(e) for e in doc["log"]] == [list(rows[0])] * len(rows) == [["epoch", "phase", "pressure", "density",
                                                                            "target", "loss"]] * 18
    for r, e in zip(rows, doc["log"]):
        assert float(r["density"]) == e["density"] and float(r["loss"]) == e["loss"]
        assert (float(r["target"]) if r["target"] else None) == e["target"]
    assert doc["log"][-1]["density"] == doc["density"]
    assert doc["density"] == pytest.approx(0.2, rel=0.1)
    masks = load_model(tmp_path / "hf.pt").masks
    kept = sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())
    assert kept == pytest.approx(doc["density"])
    assert doc["warnings"] == []  # on target: nothing to say


def test_hyperflux_says_when_it_misses_its_target(cli, tmp_path):
    # 3 pressure epochs: the trajectory itself cannot get below 18.7 %, so it ended there, not at the
    # 4.5 % it was computed for; refused before any training, naming the epochs that can
    refused = cli("hyperflux", "--model", "mlp:64,32,10", "--data", "digits:train", "--target-density", 0.05,
                  "--pruning-epochs", 3, "-o", tmp_path / "hf.pt")
    assert refused.exit_code == 2 and not (tmp_path / "hf.pt").exists()
    assert ("--pruning-epochs 3 cannot take the trajectory down to 0.045 (the target 0.05 times the regrowth "
            "headroom 0.9), only to 0.1867; use --pruning-epochs 5 or more") in refused.stderr
    # 5 pressure epochs cannot take a fresh MLP to 5 %: the result is off by far more than 10 %
    result = cli("hyperflux", "--model", "mlp:64,32,10", "--data", "digits:train", "--target-density", 0.05,
                 "--pruning-epochs", 5, "--regrowth-epochs", 0, "-o", tmp_path / "hf.pt")
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stdout.split())  # the console wraps long lines
    assert "warning: Hyperflux ended at density" in said and "short of the target: raise --pruning-epochs" in said
    from prunelimit.api.laws import _missed_target

    assert _missed_target(0.095, 0.1, []) == []
    assert "5.00 %, −50 % off the requested 10.00 %" in _missed_target(0.05, 0.1, [])[0]  # −: U+2212, as every negative


def test_report_flag_writes_self_contained_html(cli, own_ckpt, tmp_path):
    doc = _json(cli("bounds", own_ckpt, "--max-samples", 300, "--report", tmp_path / "r", "--json"))
    html = (tmp_path / "r" / "report.html").read_text()
    assert f"{100 * doc['prediction']['ratio']:.2f}" in html and "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html
    assert cli("prune", own_ckpt, "--ratio", "0.5", "-o", tmp_path / "p.pt", "--report", tmp_path / "r").exit_code == 2
    assert not (tmp_path / "p.pt").exists()  # the report folder is checked before any work


def test_verify_refuses_negative_sweep(cli, own_ckpt):
    result = cli("verify", own_ckpt, "--sweep", "-3")
    assert result.exit_code == 2 and "--sweep" in result.stderr


def test_memory_report_and_narrow_lanczos_basis(cli, own_ckpt):
    """``memory`` states what the solver holds; a 16-bit basis halves it and barely moves ρ*."""
    common = ("--method", "paper", "--iterations", 20, "--json", "--max-samples", 300)
    wide = _json(cli("bounds", own_ckpt, *common, "--basis-dtype", "float64"))
    narrow = _json(cli("bounds", own_ckpt, *common, "--basis-dtype", "bfloat16"))
    dim = wide["params"]["hessian"]
    assert wide["memory"]["basis_kind"] == "Lanczos basis, float64"
    assert wide["memory"]["hvp_engine"] == "cached"  # a small model's graphs fit the budget
    assert wide["memory"]["basis_mb"] == pytest.approx(20 * dim * 8 / 2**20)
    assert narrow["memory"]["basis_mb"] == pytest.approx(wide["memory"]["basis_mb"] / 4)
    assert wide["memory"]["hvp_graphs_mb"] > 0 and wide["memory"]["peak_host_mb"] > 0
    assert wide["memory"]["peak_device_mb"] is None  # CPU
    # bfloat16 keeps the basis orthogonal to ~4e-3 (tests/curvature/test_lanczos.py); on
    # this model the continuous ρ* moved by 1e-5, so 1e-3 is a wide margin.
    assert narrow["prediction"]["continuous_ratio"] == pytest.approx(wide["prediction"]["continuous_ratio"], abs=1e-3)
    exact = _json(cli("spectrum", own_ckpt, "--method", "exact", "--json", "--max-samples", 300))
    assert exact["memory"]["basis_kind"] == "dense Hessian, float64"
    assert exact["memory"]["basis_mb"] == pytest.approx(dim * dim * 8 / 2**20)


@pytest.mark.parametrize("args, table, figure", [
    (["imp", "mlp:64,16,10", "--data", "digits:train", "--eval-data", "digits:test", "--levels", 2, "--epochs", 1,
      "--max-samples", 256, "-o", "sweep"], "Levels", "density, error and loss per level"),
    (["hyperflux", "--model", "mlp:64,16,10", "--data", "digits:train", "--eval-data", "digits:test",
      "--target-density", 0.5, "--pruning-epochs", 3, "--regrowth-epochs", 1, "--max-samples", 256, "--gate-lr", 0.1,
      "-o", "h.pt"],
     "Epochs", "density, pressure and loss per epoch"),
])
def test_the_companion_law_commands_write_a_report(cli, tmp_path, monkeypatch, args, table, figure):
    """`imp` and `hyperflux` took no --report, where bounds, verify, prune and the law fits do:
    the page holds their levels or epochs as a table, the trajectory as a figure and the same
    JSON document as --json; a second run refuses to replace it without --force."""
    monkeypatch.chdir(tmp_path)
    doc = _json(cli(*args, "--report", "r", "--json"))
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert f"<h2>{table}</h2>" in page and f"<figcaption>{figure}</figcaption>" in page
    assert page.count("<tr>") > len(doc.get("rows") or doc.get("log"))
    assert "data:image/png;base64," in page
    embedded = json.loads(html.unescape(page.split("<pre>")[-1].split("</pre>")[0]))
    assert embedded == doc
    again = cli(*args, "--report", "r")  # imp resumes its levels, and its page too is refused
    assert again.exit_code == 2 and "already exists; pass --force" in again.stderr, again.stderr
    assert (tmp_path / "r" / "report.html").read_text(encoding="utf-8") == page
