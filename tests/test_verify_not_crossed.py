"""``verify``'s console says when no ratio it measured fails a criterion, as its JSON does.

``actual.accuracy_crossed`` false (here ``--acc-drop 100``: no accuracy falls 100 points)
means the limit shown is only the last grid point the search reached, 99.90 %: the console
showed it as a measured limit, with nothing to tell it from one.
"""

from __future__ import annotations

import json

from prunelimit.report.rounding import signed  # a negative drop is printed with −, U+2212

FAST = ("--max-samples", 300, "--no-cache", "--threads", "1")


def test_a_criterion_no_measured_ratio_fails_is_shown_as_at_least(cli, own_ckpt, tmp_path):
    (tmp_path / "b.json").write_text(cli("bounds", own_ckpt, *FAST, "--method", "exact", "--json").stdout)
    args = ("verify", own_ckpt, *FAST[:2], "--threads", "1", "--from", tmp_path / "b.json", "--acc-drop", 100)
    doc = json.loads(cli(*args, "--json").stdout)
    assert doc["actual"]["accuracy_crossed"] is False and doc["actual"]["accuracy_ratio"] == 0.999
    assert doc["actual"]["loss_crossed"] is True
    out = cli(*args)
    assert out.exit_code == 0, out.stderr
    lines = out.stdout.splitlines()
    accuracy_row = next(line for line in lines if "actual (accuracy" in line)
    loss_row = next(line for line in lines if "actual (loss" in line)
    assert "≥ 99.90 %" in accuracy_row and "≥" not in loss_row.split("│")[2]
    assert "≤ 0.10 %" in accuracy_row and "≤" not in loss_row.split("│")[3]  # the density it keeps, at most
    assert "no ratio the search measured fails the accuracy criterion" in " ".join(out.stdout.split())


def test_a_loss_limit_no_measured_ratio_fails_makes_delta_at_most_what_it_shows(cli, own_ckpt, tmp_path):
    """With an ε above every pruned loss (a saved report's, here set so), the loss limit is at
    least 99.90 % and Δ = ρ* − actual at most the number shown."""
    saved = json.loads(cli("bounds", own_ckpt, *FAST, "--method", "exact", "--json").stdout)
    saved["epsilon"] = 1e9
    (tmp_path / "b.json").write_text(json.dumps(saved))
    args = ("verify", own_ckpt, *FAST[:2], "--threads", "1", "--from", tmp_path / "b.json")
    doc = json.loads(cli(*args, "--json").stdout)
    assert doc["actual"]["loss_crossed"] is False and doc["actual"]["loss_ratio"] == 0.999
    out = cli(*args)
    assert out.exit_code == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "≥ 99.90 %" in next(line for line in lines if "actual (loss" in line)
    assert "≤ " in next(line for line in lines if "Δ = ρ* − actual (loss)" in line)
    assert "no ratio the search measured fails the loss" in " ".join(out.stdout.split())


def test_the_html_report_marks_an_unfailed_limit_as_the_console_does(cli, own_ckpt, tmp_path):
    """The report's summary showed the loss limit 99.90 % (JSON ``loss_crossed`` false, console
    ``≥ 99.90 %``) as a measured one, its kept density and Δ without the console's ``≤``."""
    from html import unescape

    saved = json.loads(cli("bounds", own_ckpt, *FAST, "--method", "exact", "--json").stdout)
    saved["epsilon"] = 1e9  # above every pruned loss: no measured ratio fails either criterion
    (tmp_path / "b.json").write_text(json.dumps(saved))
    args = ("verify", own_ckpt, *FAST[:2], "--threads", "1", "--from", tmp_path / "b.json", "--acc-drop", 100)
    out = cli(*args, "--report", tmp_path / "r")
    assert out.exit_code == 0, out.stderr
    page = unescape((tmp_path / "r" / "report.html").read_text(encoding="utf-8"))
    for criterion in ("loss", "accuracy"):
        assert f"actual limit ({criterion} criterion)</td><td class=num>≥ 99.90 % removed · ≤ 0.10 % kept<" in page
    delta_row = next(line for line in out.stdout.splitlines() if "Δ = ρ* − actual (loss)" in line)
    shown = delta_row.split("│")[2].strip()
    assert shown.startswith("≤ ") and f"Δ = ρ* − actual (loss criterion)</td><td class=num>{shown}<" in page


def test_the_gate_states_an_unfailed_measured_limit_as_at_least(cli, own_ckpt, tmp_path):
    """``gate --use actual`` read the same limit as "actual limit 0.9990", a measured one, where
    verify shows ``≥ 99.90 %``; its drop against a baseline is then at most the one shown, and
    against a baseline of such a limit at least."""
    common = (own_ckpt, *FAST[:2], "--threads", "1")
    (tmp_path / "v.json").write_text(cli("verify", *common, "--method", "exact", "--json").stdout)
    unfailed = ("--epsilon", "1e9")  # above every pruned loss: no measured ratio fails
    (tmp_path / "v9.json").write_text(cli("verify", *common, "--method", "exact", *unfailed, "--json").stdout)
    floor = cli("gate", *common, "--use", "actual", "--min-ratio", "0.5", *unfailed, "--json")
    doc = json.loads(floor.stdout)
    assert doc["bounds"]["actual"]["loss_crossed"] is False and doc["measured"] == 0.999
    assert doc["rules"][0]["reason"] == "actual limit ≥ 0.9990 >= required 0.5000"
    assert "PASS actual ratio >= 0.5: actual limit ≥ 0.9990 >= required 0.5000" in \
        cli("gate", *common, "--use", "actual", "--min-ratio", "0.5", *unfailed).stdout
    measured = json.loads((tmp_path / "v.json").read_text())["actual"]["loss_ratio"]
    for baseline, extra, said in (
            ("v.json", unfailed, f"actual limit ≥ 0.9990 vs baseline {measured:.4f}: drop ≤ {signed(measured - 0.999, '+.4f')}"),
            ("v9.json", (), f"actual limit {measured:.4f} vs baseline ≥ 0.9990: drop ≥ {signed(0.999 - measured, '+.4f')}")):
        out = cli("gate", *common, "--use", "actual", "--baseline", tmp_path / baseline, "--max-drop", "0.01", *extra,
                  "--allow-incompatible-baseline", "--json")
        assert json.loads(out.stdout)["rules"][0]["reason"].startswith(said), out.stdout


def test_a_refit_limit_no_measured_ratio_fails_is_shown_as_at_least(cli, own_ckpt, tmp_path):
    """``--refit``'s limits had no ``*_crossed`` flag: at an ε above every fine-tuned loss its
    99.90 % read as a measured limit beside the one-shot row's ``≥ 99.90 %``."""
    saved = json.loads(cli("bounds", own_ckpt, *FAST, "--method", "exact", "--json").stdout)
    saved["epsilon"] = 1e9
    (tmp_path / "b.json").write_text(json.dumps(saved))
    args = ("verify", own_ckpt, *FAST[:2], "--threads", "1", "--from", tmp_path / "b.json", "--acc-drop", 100,
            "--refit", "--finetune-epochs", 1, "--seed", 0)
    refit = json.loads(cli(*args, "--json").stdout)["refit"]
    assert refit["loss_ratio"] == refit["accuracy_ratio"] == 0.999
    assert refit["loss_crossed"] is False and refit["accuracy_crossed"] is False
    out = cli(*args)
    assert out.exit_code == 0, out.stderr
    for criterion in ("loss", "accuracy"):
        row = next(line for line in out.stdout.splitlines() if f"after 1 fine-tuning epoch ({criterion})" in line)
        assert "≥ 99.90 %" in row and "≤ 0.10 %" in row
