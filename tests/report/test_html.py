"""The HTML report: rendered for the bundled example, well-formed, self-contained, with its numbers."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

from prunelimit import api
from prunelimit.errors import UsageError
from prunelimit.inputs import load_inputs
from prunelimit.models.params import prunable_parameters
from prunelimit.report.figures import (
    bounds_figure,
    figure_png,
    layers_at_ratio,
    sparsity_figure,
    spectrum_figure,
    verify_figure,
)
from prunelimit.io.outputs import preflight
from prunelimit.report.jsonout import document
from prunelimit.report.console import delta_text
from prunelimit.report.html import REPORT_NAME, flatten, render_html, report_output, versions, write_report
from prunelimit.report.plots import plot_bounds
from prunelimit.theory.profile import MagnitudeProfile

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits-mlp.pt"
VOID = {"meta", "img", "br", "hr", "link", "input", "source", "col", "area", "base", "wbr"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """Collects tags and attributes and checks that every non-void tag is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unexpected </{tag}>")

    def handle_data(self, data) -> None:
        self.text.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def assert_self_contained(text: str, page: Page) -> None:
    assert page.doctype and not page.errors and not page.stack, (page.errors, page.stack)
    tags = {t for t, _ in page.tags}
    assert not tags & {"script", "link", "iframe", "object", "embed", "base"}
    for tag, attrs in page.tags:
        assert "href" not in attrs, (tag, attrs)
        for key in ("src", "srcset", "poster", "data"):
            if key in attrs:
                assert attrs[key].startswith("data:image/png;base64,"), (tag, key)
    # outside the base64 image data (whose alphabet contains '/') no URL or import may appear
    rest = re.sub(r'src="data:image/png;base64,[A-Za-z0-9+/=]*"', "", text)
    for token in ("http:", "https:", "//", "url(", "@import"):
        assert token not in rest, token


@pytest.fixture(scope="module")
def verify_rep():
    torch.manual_seed(0)
    inputs = load_inputs(EXAMPLE, device="cpu", data_from_checkpoint=True)
    # paper SLQ with few steps keeps the test fast; the report does not depend on the accuracy
    return api.verify(inputs, api.CurvatureOptions(method="paper", iterations=24, runs=2))


def test_verify_report_for_the_bundled_example(verify_rep, tmp_path):
    rep = verify_rep
    names = [n for n, _ in prunable_parameters(load_inputs(EXAMPLE, device="cpu").model)]
    figures = {"Hessian spectrum": spectrum_figure(rep.bounds.spectrum), "F(R) against R(ρ)": bounds_figure(rep.bounds),
               "loss and accuracy against the ratio": verify_figure(rep),
               "sparsity per layer at ρ*": sparsity_figure(layers_at_ratio(names, rep.bounds.profile, rep.bounds.ratio))}
    argv = ["prunelimit", "verify", str(EXAMPLE), "--report", str(tmp_path / "r")]
    path = write_report(tmp_path / "r", "verify", rep.to_json(), figures, argv)
    assert path == tmp_path / "r" / REPORT_NAME
    text = path.read_text(encoding="utf-8")
    page = parse(text)
    assert_self_contained(text, page)

    images = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 4
    for src in images:
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)

    shown = "".join(page.text)
    b, a = rep.bounds, rep.actual
    # the headline numbers, formatted as the summary table shows them (2 decimals of a percent)
    for ratio in (b.ratio, b.lower, b.upper, a.loss_ratio, a.accuracy_ratio):
        assert f"{100 * ratio:.2f} % removed · {100 * (1 - ratio):.2f} % kept" in shown
    assert delta_text(rep.delta, rep.delta_plus_minus) in shown  # Δ with its ±, as on the console
    assert f"{rep.bounds.epsilon:.4g}" in shown  # as the console states ε
    assert f"{rep.bounds.params_prunable:,}" in shown
    assert " ".join(argv) in shown  # the exact command
    for value in versions().values():  # prunelimit, torch, numpy, scipy, python, platform
        assert value in shown
    for warning in rep.bounds.warnings:
        assert warning in shown
    assert '"schema": "prunelimit.verify/1"' in shown  # the JSON document, escaped in a <pre>


def test_all_values_read_as_the_json_document(verify_rep):
    """Every number of the *All values* table is the JSON's, digit for digit (it showed
    ``prediction.ratio`` 0.918341 for 0.9183412233529203), and so are true and null."""
    doc = document("verify", verify_rep.to_json())
    text = render_html("verify", verify_rep.to_json(), {}, ["prunelimit", "verify"])
    scalars = [(path, value) for path, value in flatten(doc) if not isinstance(value, str)]
    assert any(isinstance(value, float) for _, value in scalars) and any(value is None for _, value in scalars)
    for path, value in scalars:
        assert f"<tr><td>{path}</td><td class=num>{json.dumps(value)}</td></tr>" in text, path
    assert f"<td>bounds.lower</td><td class=num>{verify_rep.bounds.lower!r}</td>" in text


def test_the_summary_states_rho_star_with_its_plus_minus(verify_rep):
    """The summary showed ρ* without its ± (only the *All values* table held
    ``prediction.uncertainty.plus_minus``): it states it as the console does, by source,
    and says so when a saved prediction states none."""
    from prunelimit.report.console import uncertainty_text

    stated = uncertainty_text(verify_rep.bounds.uncertainty.to_json())
    assert stated.startswith("± ") and "grid and integer-R rounding" in stated
    text = render_html("verify", verify_rep.to_json(), {}, ["prunelimit", "verify"])
    assert f"<tr><td>stated uncertainty of ρ*</td><td class=num>{stated}</td></tr>" in text
    older = verify_rep.to_json()
    older["prediction"].pop("uncertainty")
    assert "<td>stated uncertainty of ρ*</td><td class=num>(no ± stated)</td>" in \
        render_html("verify", older, {}, ["prunelimit", "verify"])


def test_the_verify_summary_states_the_dense_accuracy_as_the_console_does(verify_rep, capsys, monkeypatch):
    """The console's line reads "dense loss 0.1098 · dense accuracy 98.26 %"; the summary left
    the dense accuracy out (only *All values* held ``actual.dense_accuracy``). It has the row now,
    in the console's words and rounding, next to the dense loss."""
    from prunelimit.report.console import render_verify

    monkeypatch.setenv("COLUMNS", "200")
    render_verify(verify_rep)
    said = re.search(r"dense loss (\S+) · dense accuracy (\S+ %)", capsys.readouterr().out)
    assert said, "the console states no dense accuracy"
    text = render_html("verify", verify_rep.to_json(), {}, ["prunelimit", "verify"])
    summary = dict(re.findall(r"<tr><td>([^<]*)</td><td class=num>([^<]*)</td></tr>",
                              text.split("<h2>Summary</h2>")[1].split("</table>")[0]))
    assert (summary.get("dense loss"), summary.get("dense accuracy")) == said.groups(), summary
    without = verify_rep.to_json()
    without["actual"]["dense_accuracy"] = None  # a model with no accuracy: the console prints none either
    assert "<td>dense accuracy</td>" not in render_html("verify", without, {}, ["prunelimit", "verify"])


def test_prune_report_has_the_per_layer_sparsity(tmp_path):
    inputs = load_inputs(EXAMPLE, device="cpu", data_from_checkpoint=True)
    named = prunable_parameters(inputs.model)
    profile = MagnitudeProfile.from_tensors([p.detach() for _, p in named])
    predicted = layers_at_ratio([n for n, _ in named], profile, 0.8)
    rep = api.prune(inputs, 0.8, tmp_path / "pruned.pt")
    # oracle: the zeros the real pruning left, tensor by tensor (exact integer counts)
    assert [(l.name, l.total, l.zeros) for l in predicted] == [(l.name, l.total, l.zeros) for l in rep.layers]
    path = write_report(tmp_path, "prune", rep.to_json(), {"sparsity per layer": sparsity_figure(rep.layers)},
                        ["prunelimit", "prune", str(EXAMPLE), "--ratio", "0.8", "-o", "pruned.pt"])
    text = path.read_text(encoding="utf-8")
    assert_self_contained(text, parse(text))
    assert f"{100 * rep.achieved:.2f} % removed" in text
    assert all(layer.name in text for layer in rep.layers)


def test_a_predicted_prune_report_states_the_ratios_plus_minus_and_the_accuracy_lost(verify_rep, tmp_path):
    """`prune --ratio auto --report` showed the ratio without the ± the console prints beside
    it (``predicted ρ* = 91.84 % ± 0.62 pt (…)``, JSON ``ratio.uncertainty``) and left out the
    accuracy drop the console warns of: the summary states both as the console does; a
    given ratio states neither ±."""
    from prunelimit.report.console import uncertainty_text

    inputs = load_inputs(EXAMPLE, device="cpu", data_from_checkpoint=True)
    stated = verify_rep.bounds.uncertainty.to_json()
    rep = api.prune(inputs, verify_rep.bounds.ratio, tmp_path / "pruned.pt", "auto (bounds)", acc_drop=0.5,
                    uncertainty=stated)
    text = render_html("prune", rep.to_json(), {}, ["prunelimit", "prune"])
    assert f"<tr><td>stated uncertainty of the predicted ratio</td><td class=num>{uncertainty_text(stated)}</td></tr>" in text
    assert f"<tr><td>accuracy lost by pruning</td><td class=num>{rep.accuracy_drop:.2f} pt</td></tr>" in text
    assert "<tr><td>accuracy loss allowed (--acc-drop)</td><td class=num>0.5 pt</td></tr>" in text  # as typed
    exceeded = "yes" if rep.acc_drop_exceeded else "no"
    assert f"<tr><td>lost more than --acc-drop</td><td class=num>{exceeded}</td></tr>" in text
    given = api.prune(load_inputs(EXAMPLE, device="cpu", data_from_checkpoint=True), 0.5, tmp_path / "given.pt")
    assert "stated uncertainty" not in render_html("prune", given.to_json(), {}, ["prunelimit", "prune"])


def test_everything_is_escaped():
    evil = "<script>alert(1)</script>"
    body = {"warnings": [evil], "note": evil, "prediction": {"ratio": 0.5}}
    text = render_html("bounds", body, {evil: b"\x89PNG\r\n\x1a\nfake"}, ["prunelimit", evil, "a&b"], generated=evil)
    page = parse(text)
    assert_self_contained(text, page)
    assert "<script>" not in text
    assert "&lt;script&gt;" in text and "a&amp;b" in text
    assert "50.00 % removed · 50.00 % kept" in "".join(page.text)


def test_a_file_names_escapes_and_undecodable_bytes_are_shown_as_escapes(tmp_path):
    # a checkpoint named with a terminal escape and a byte that is not UTF-8 (Python holds it as
    # the surrogate U+DCFF): the page failed to be written (exit 5, UnicodeEncodeError), and the
    # escape reached the page raw, run by a terminal that shows it (``cat report.html``)
    name = "w\x1b]0;owned\x07\x1b[2J\udcff<b>.pt"
    body = {"checkpoint": name, "warnings": [f"checkpoint {name} is odd"], "layers": [{"name": name, "density": 0.5}]}
    path = write_report(tmp_path / "r", "bounds", body, {name: b"\x89PNG\r\n\x1a\nfake"}, ["prunelimit", "bounds", name])
    text = path.read_text(encoding="utf-8")
    assert not any(ch in text for ch in "\x1b\x07"), "a control character reached the page"
    parse(text)
    shown = r"w\x1b]0;owned\x07\x1b[2J\udcff&lt;b&gt;.pt"
    assert text.count(shown) >= 5  # the All values table, the warning, the layers grid, the figure and the command line


def test_overwrite_needs_force_and_a_file_is_not_a_folder(tmp_path):
    write_report(tmp_path / "new" / "deeper", "bounds", {"loss": 1.0}, {}, ["prunelimit"])
    with pytest.raises(UsageError, match="--force"):  # checked up front, before any work
        preflight([report_output(tmp_path / "new" / "deeper")])
    with pytest.raises(UsageError, match="--force"):
        write_report(tmp_path / "new" / "deeper", "bounds", {"loss": 2.0}, {}, ["prunelimit"])
    path = write_report(tmp_path / "new" / "deeper", "bounds", {"loss": 2.0}, {}, ["prunelimit"], force=True)
    assert ">2<" in path.read_text()
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        write_report(tmp_path / "file", "bounds", {}, {}, ["prunelimit"])
    assert [p.name for p in (tmp_path / "new" / "deeper").iterdir()] == [REPORT_NAME]  # no temporary left


def test_flatten_summarises_long_lists():
    rows = dict(flatten({"a": {"b": 1, "c": [1, 2]}, "curve": [{"ratio": 0.1}] * 9, "empty": []}))
    assert rows == {"a.b": 1, "a.c": "1, 2", "curve": "[9 items, see the JSON document below]", "empty": "[]"}


def test_plots_write_png_files_and_refuse_to_overwrite(verify_rep, tmp_path):
    out = plot_bounds(verify_rep.bounds, tmp_path / "b.png")
    assert out.read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(UsageError):
        plot_bounds(verify_rep.bounds, tmp_path / "b.png")
    assert b"matplotlib" not in figure_png(spectrum_figure(verify_rep.bounds.spectrum))  # no Software chunk


def test_the_summary_states_the_trace_with_its_plus_minus(verify_rep):
    """The summary showed no trace, and *All values* its ± apart, unrounded: it states the
    trace as the console does, the ± to two digits and the trace to its decimal."""
    s = verify_rep.to_json()["spectrum"]
    assert s["trace_plus_minus"] > 0  # SLQ: a stated ±
    text = render_html("verify", verify_rep.to_json(), {}, ["prunelimit", "verify"])
    line = re.search(r"<td>Hessian trace</td><td class=num>([^<]*)</td>", text)
    assert line is not None
    value, plus_minus = line.group(1).removesuffix(" (95 %)").split(" ± ")
    assert len(plus_minus.replace(".", "").lstrip("0")) == 2  # two significant digits
    assert len(value.partition(".")[2]) == len(plus_minus.partition(".")[2])  # the ±'s decimal
    assert abs(float(value) - s["trace"]) <= 10.0 ** -len(value.partition(".")[2])
    exact = verify_rep.to_json()
    exact["spectrum"]["trace_plus_minus"] = 0.0
    assert f"<td>Hessian trace</td><td class=num>{s['trace']:.4g}</td>" in render_html("verify", exact, {}, ["p"])


def test_the_layers_grid_states_each_trace_with_its_plus_minus():
    """The Layers grid showed ``trace`` and ``trace_plus_minus`` as two raw columns: one
    column now states each layer's trace as the console's per-layer table does."""
    layers = [{"name": "0.weight", "trace": 12.345678, "trace_plus_minus": 0.0421},
              {"name": "2.weight", "trace": 3.0, "trace_plus_minus": 0.0},  # exact block: no ±
              {"name": "4.weight", "trace": 0.5, "trace_plus_minus": None}]  # not stated
    text = render_html("bounds", {"prediction": {"ratio": 0.5}, "layers": layers}, {}, ["p"])
    grid = text.partition("<h2>Layers</h2>")[2].partition("</table>")[0]
    assert "<th>trace (± 95 %)</th>" in grid and "trace_plus_minus" not in grid
    assert "<td class=num>12.346 ± 0.042</td>" in grid
    assert "<td class=num>3</td>" in grid and "<td class=num>0.5</td>" in grid


def test_no_table_widens_the_page_on_a_narrow_screen():
    """A 64-digit fingerprint, a long path or a wide Layers grid set the width of their table,
    which pushed the whole page past a phone's screen: every table now scrolls in its own
    box, and its cells break tokens longer than the screen."""
    long_path = "/very/long/" + "folder/" * 20 + "model.pt"
    body = {"prediction": {"ratio": 0.5}, "output": long_path, "data": {"fingerprint": "ab" * 32},
            "layers": [{f"column_{i}": 1.0 for i in range(12)}]}
    text = render_html("bounds", body, {}, ["prunelimit", "bounds", long_path])
    style = re.search(r"<style>(.*?)</style>", text, flags=re.S)[1]
    rules = dict(re.findall(r"([^{}]+)\{([^}]*)\}", style))
    boxes = [sel.strip() for sel, rule in rules.items() if "overflow-x:auto" in rule]
    breaking = [sel.strip() for sel, rule in rules.items() if "overflow-wrap:anywhere" in rule]
    assert any("td" in sel.split(",") for sel in breaking) and any("th" in sel.split(",") for sel in breaking)
    page = parse(text)
    assert_self_contained(text, page)
    tables = re.findall(r"(<[^<>]*>)\s*<table>", text)
    assert len(tables) == text.count("<table>") == 4  # Summary, Layers, All values, versions
    for opening in tables:
        box = re.fullmatch(r"<div class=(\w+)>", opening)
        assert box is not None and f".{box[1]}" in boxes, opening


def test_the_docs_name_the_commands_that_take_report():
    """README and the guide list the commands with `--report`: exactly those that have it."""
    import typer

    from prunelimit.cli import app

    def leaves(group, prefix=""):
        for name, command in group.commands.items():
            yield from leaves(command, f"{name} ") if hasattr(command, "commands") else [(prefix + name, command)]

    having = {name for name, command in leaves(typer.main.get_command(app))
              if any("--report" in p.opts for p in command.params)}
    root = Path(__file__).resolve().parents[2]
    readme = " ".join((root / "README.md").read_text(encoding="utf-8").split())
    guide = " ".join((root / "docs" / "guide.md").read_text(encoding="utf-8").split())
    lists = [re.search(r"`--report DIR` on (.*?) writes", readme)[1],
             re.search(r"## The HTML report (.*?) take `--report DIR`", guide)[1]]
    for listed in lists:
        assert set(re.findall(r"`([a-z][a-z -]*)`", listed)) == having, listed


def _summary(text: str) -> dict[str, str]:
    table = text.partition("<h2>Summary</h2>")[2].partition("</table>")[0]
    return dict(re.findall(r"<tr><td>([^<]*)</td><td class=num>([^<]*)</td></tr>", table))


def test_the_law_summaries_state_what_the_console_states():
    """The law reports' summaries held the point estimates alone: no interval, fit region,
    held-out or leave-one-out error, which `law nplh` and `law error-fit` print on the console.
    Each is now there, read from the JSON document."""
    import numpy as np

    from prunelimit.laws.errorlaw import ErrorPoints, error_law, fit_error_law
    from prunelimit.laws.nplh import fit_nplh
    from prunelimit.laws.points import LawPoints

    gamma = np.geomspace(1e-3, 1e2, 40)
    noise = np.random.default_rng(0).normal(0, 0.02, gamma.size)
    law = fit_nplh(LawPoints.from_arrays(0.01 * gamma ** -0.5 * np.exp(noise), gamma)).to_json()
    shown = _summary(render_html("law-nplh", law, {}, ["p"]))
    assert shown["95 % interval of α0"] == f"[{law['alpha0_ci'][0]:.4f}, {law['alpha0_ci'][1]:.4f}]"  # as the console
    assert shown["95 % interval of c"] == f"[{law['c_ci'][0]:.4g}, {law['c_ci'][1]:.4g}]"
    assert shown["fitted density region"] == f"{100 * law['region']['low']:.2f} % – {100 * law['region']['high']:.2f} %"
    assert shown["points in the region"] == str(law["region"]["points"])
    assert shown["quadratic term needed"] == ("yes" if law["quadratic"]["needed"] else "no")
    assert shown["held-out density error (median)"] == f"{100 * law['heldout']['median_rel_error']:.2f} %"

    d = np.geomspace(1e-3, 1.0, 20)
    body = fit_error_law(ErrorPoints(d, error_law(d, 0.05, 0.9, 2.0, 0.01) * (1 + 0.02 * np.sin(7 * d)))).to_json()
    shown = _summary(render_html("law-error-fit", body, {}, ["p"]))
    for key, name in (("gamma", "γ"), ("eps_up", "ε_up"), ("p", "p")):
        low, high = body["intervals"][key]
        assert shown[f"95 % interval of {name}"] == f"[{low:.4g}, {high:.4g}]"
    assert shown["std of the relative fit error"] == f"{100 * body['fit']['std_rel_error']:.2f} %"  # as the console
    assert shown["leave-one-out |relative error| (mean)"] == f"{100 * body['fit']['loo_mean_abs_rel_error']:.2f} %"
    body["intervals"]["gamma"] = [None, 3.0]  # a side the points leave unbounded (JSON null)
    assert _summary(render_html("law-error-fit", body, {}, ["p"]))["95 % interval of γ"] == "[unbounded, 3]"


def test_an_unbounded_interval_side_reads_unbounded_as_on_the_console():
    """Flat errors leave γ and p free: their upper side is unbounded (``inf``; JSON ``null``),
    which the console prints as ``unbounded`` and the report showed as "—", the mark of a
    value not computed. The report now says ``unbounded`` too."""
    import numpy as np

    from prunelimit.laws.errorlaw import ErrorPoints, fit_error_law
    from prunelimit.report.console import bound

    d = np.geomspace(1e-3, 1.0, 12)
    body = document("law-error-fit", fit_error_law(ErrorPoints(d, np.full(d.size, 0.05))).to_json())
    assert body["intervals"]["gamma"][1] is None and body["intervals"]["p"][1] is None
    shown = _summary(render_html("law-error-fit", body, {}, ["p"]))
    for key, name in (("gamma", "γ"), ("p", "p")):
        low = body["intervals"][key][0]
        assert shown[f"95 % interval of {name}"] == f"[{low:.4g}, {bound(float('inf'))}]" == f"[{low:.4g}, unbounded]"


@pytest.mark.parametrize(("plus_minus", "text"), [(0.0, "+1.93 ± 0 pt"), (0.0123, "+1.9 ± 1.2 pt"),
                                                  (None, "+1.93 pt (no ± stated)")])
def test_the_gap_carries_its_plus_minus_as_on_the_console(verify_rep, plus_minus, text):
    """The report's Δ row read ``+1.93 points`` where the console and the JSON state Δ with
    ρ*'s ± (``delta_plus_minus``), or say a ``--from`` prediction states none."""
    body = {**verify_rep.to_json(), "delta": 0.0193, "delta_points": 1.93, "delta_plus_minus": plus_minus}
    shown = _summary(render_html("verify", body, {}, ["prunelimit", "verify"]))
    assert shown["Δ = ρ* − actual (loss criterion)"] == text


def test_epsilon_the_loss_and_the_time_read_as_on_the_console(verify_rep, capsys):
    """The summary gave ε, the dense loss and the curvature time to six digits (0.0153537,
    0.102747, 1.79839) where the console's lines state them to four (``ε = 0.01535 · dense
    loss 0.1027``) and the seconds to one decimal (``in 1.8 s``)."""
    from prunelimit.report.console import render_verify

    shown = _summary(render_html("verify", verify_rep.to_json(), {}, ["prunelimit", "verify"]))
    render_verify(verify_rep)
    console = " ".join(capsys.readouterr().out.split())
    b, s = verify_rep.bounds, verify_rep.bounds.spectrum
    # ε with its source, as the console's line (tests/report/test_html_grid_rounding.py)
    assert shown["loss tolerance ε"] == f"{b.epsilon:.4g} ({b.epsilon_source})"
    assert f"ε = {shown['loss tolerance ε']} " in console
    assert shown["dense loss"] == f"{s.loss:.4g}" and f"dense loss {shown['dense loss']} " in console
    assert shown["curvature time (s)"] == f"{s.seconds:.1f}" and f"in {shown['curvature time (s)']} s" in console
