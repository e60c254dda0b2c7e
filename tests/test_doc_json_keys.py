"""Every JSON key the docs promise is in the `--json` document of its command: the keys
scripts rely on (README: "schema `prunelimit.<command>/1`"), the guide's list of
`prediction.uncertainty`'s parts and its table of the law commands' schemas, each read
from real output of a small model (fixed plans, 300 samples: seconds)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

GUIDE = (Path(__file__).resolve().parents[1] / "docs" / "guide.md").read_text(encoding="utf-8")
FAST = ("--method", "paper", "--iterations", "8", "--runs", "1", "--max-samples", "300", "--device", "cpu")
RELIED_ON = {  # what a CI script reads, per command
    "verify": ("params.hessian", "params.prunable", "loss", "epsilon", "spectrum.lambda_max", "spectrum.lambda_min",
               "spectrum.trace", "spectrum.runs", "spectrum.iterations", "prediction.ratio", "prediction.density",
               "prediction.radius", "bounds.lower", "bounds.upper", "bounds.eta", "timing.seconds", "timing.hvps",
               "actual.loss_ratio", "actual.accuracy_ratio", "actual.evaluations", "delta", "timing.search.seconds",
               "prediction_from"),
    "prune": ("ratio.requested", "ratio.achieved", "ratio.prediction_from",
              "ratio.plus_minus", "ratio.uncertainty", "ratio.epsilon",
              "ratio.epsilon_source", "layers.name", "layers.total", "layers.zeros", "layers.collapsed", "before.loss",
              "before.accuracy", "after.loss", "after.accuracy", "after.accuracy_drop", "acc_drop",
              "acc_drop_exceeded", "overshoot", "output", "spectrum.choice", "spectrum.stopped_by", "timing",
              "warnings"),
    "gate": ("passed", "measured", "compared", "threshold", "baseline", "reason", "fix", "rules.passed",
             "rules.measured", "rules.compared", "rules.threshold", "rules.fix",
             "rules.fail_on_overshoot", "warnings"),
    "info": ("params.total", "params.prunable", "params.hessian", "layers", "loss", "accuracy",
             "prunable_set.include", "prunable_set.exclude", "prunable_set.from"),
}


def _has(doc, path: str) -> bool:
    """Whether ``path`` (dotted; through lists, every item) is in ``doc``."""
    head, _, rest = path.partition(".")
    if isinstance(doc, list):
        return bool(doc) and all(_has(item, path) for item in doc)
    return isinstance(doc, dict) and head in doc and (not rest or _has(doc[head], rest))


def _top_level(cell: str) -> set[str]:
    """The backticked keys of a table cell outside parentheses (those inside are nested)."""
    depth, keys = 0, set()
    for token in re.findall(r"`[^`]+`|[()]", cell):
        depth += {"(": 1, ")": -1}.get(token, 0)
        if token.startswith("`") and depth == 0 and re.fullmatch(r"`\w+`", token):
            keys.add(token.strip("`"))
    return keys


def _law_schemas() -> dict[str, set[str]]:
    """The guide's table of the law commands' JSON: schema → its top-level keys."""
    rows = re.findall(r"^\| `(prunelimit\.[\w-]+/1)`[^|]* \| (.*) \|$", GUIDE, flags=re.M)
    return {schema: _top_level(cell) for schema, cell in rows}


def _json(result) -> dict:
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def documents(cli, own_ckpt, tmp_path) -> dict[str, dict]:
    density = np.logspace(-2.5, 0, 15)
    (tmp_path / "err.csv").write_text("density,error\n" + "\n".join(
        f"{d},{0.05 + 0.8 / (1 + (d / 0.02) ** 2)}" for d in density))
    (tmp_path / "pts.csv").write_text("density,gamma\n" + "\n".join(f"{d},{0.1 * d ** -0.5}" for d in density))
    small = ("--data", "digits:train", "--max-samples", "200")
    return {
        "bounds": _json(cli("bounds", own_ckpt, *FAST, "--json")),
        "verify": _json(cli("verify", own_ckpt, *FAST, "--json")),
        "prune": _json(cli("prune", own_ckpt, *FAST, "--ratio", "auto", "-o", tmp_path / "p.pt", "--json")),
        "spectrum": _json(cli("spectrum", own_ckpt, *FAST, "--json")),
        "export": _json(cli("export", tmp_path / "p.pt", "-o", tmp_path / "p.safetensors", "--json")),
        "train": _json(cli("train", "--model", "mlp:64,8,10", *small, "--epochs", "1", "-o", tmp_path / "t.pt",
                           "--json")),
        "gate": _json(cli("gate", own_ckpt, *FAST, "--min-ratio", "0.1", "--json")),
        "info": _json(cli("info", own_ckpt, "--data", "digits:test", "--max-samples", "300", "--json")),
        "prunelimit.law-nplh/1": _json(cli("law", "nplh-fit", tmp_path / "pts.csv", "--json")),
        "prunelimit.law-error-fit/1": _json(cli("law", "error-fit", tmp_path / "err.csv", "--predict", "0.05",
                                                "--target-error", "0.3", "--json")),
        "prunelimit.imp/1": _json(cli("imp", "mlp:64,8,10", *small, "--levels", "1", "--epochs", "1",
                                      "-o", tmp_path / "imp", "--json")),
        "prunelimit.hyperflux/1": _json(cli("hyperflux", "--model", "mlp:64,8,10", *small, "--target-density",
                                            "0.5", "--pruning-epochs", "5", "--regrowth-epochs", "1",
                                            "--gate-lr", "0.1",  # 10 steps: the gates can fall the 0.35 needed
                                            "-o", tmp_path / "hf.pt", "--json")),
    }


def test_the_documented_json_keys_are_in_the_output(documents):
    missing = [(command, key) for command, keys in RELIED_ON.items() for key in keys
               if not _has(documents[command], key)]
    parts = re.search(r"`prediction\.uncertainty\.\{([\w,]+)\}`", GUIDE)[1].split(",")
    missing += [("bounds", f"prediction.uncertainty.{part}") for part in parts
                if not _has(documents["bounds"], f"prediction.uncertainty.{part}")]
    schemas = _law_schemas()
    assert set(schemas) == {"prunelimit.law-nplh/1", "prunelimit.law-error-fit/1", "prunelimit.imp/1",
                            "prunelimit.hyperflux/1"}
    missing += [(schema, key) for schema, keys in schemas.items() for key in keys
                if key not in documents[schema]]
    assert missing == []
    assert all(documents[s]["schema"] == s for s in schemas)


def test_every_key_verify_adds_to_the_bounds_document_is_documented(documents):
    """verify's own keys (``weights_below``, ``actual.loss_crossed``, …) were in no doc: the
    guide's verify section names each one, those under ``actual`` too."""
    section = GUIDE[GUIDE.index("## `verify`"):GUIDE.index("## `spectrum`")]
    verify, bounds = documents["verify"], documents["bounds"]
    own = [k for k in verify if k not in bounds] + [f"actual.{k}" for k in verify["actual"]]
    assert [k for k in own if f"`{k.split('.')[-1]}`" not in section] == []


def _paths(doc, prefix: str = ""):
    """Every dotted key path of a JSON document, through lists of records (each item's keys)."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield prefix + key
            yield from _paths(value, f"{prefix}{key}.")
    elif isinstance(doc, list):
        for item in doc:
            if isinstance(item, dict):
                yield from _paths(item, prefix)


def test_every_key_a_command_emits_is_documented(documents):
    """Scripts read what the docs name: every key of every command's `--json` document is
    named (backticked, alone or as a dotted path) in the README or under docs/."""
    root = Path(__file__).resolve().parents[1]
    docs = "\n".join(p.read_text(encoding="utf-8") for p in (root / "README.md", *(root / "docs").glob("*.md")))
    named = set(re.findall(r"`([\w.]+)(?:: [^`]*)?`", docs))  # `key` or `key: value`
    named |= {part for name in named for part in name.split(".")}
    # a key that is a value, not a name (verify's `weights_below` by threshold: "0.001") is its parent's
    missing = {command: sorted({p for p in _paths(doc) if re.fullmatch(r"[A-Za-z_]\w*", p.split(".")[-1])
                                and p.split(".")[-1] not in named and p not in named})
               for command, doc in documents.items()}
    assert {c: m for c, m in missing.items() if m} == {}
