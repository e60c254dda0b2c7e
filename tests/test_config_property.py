"""Property tests (issue 8): spec parsers and config loading never raise anything but our errors.

Whatever a user types or a stranger's YAML holds, the outcome is a result or a
``PrunelimitError`` (exit 2/3 with a message), never an uncaught exception (exit 5).
Generated strings avoid path separators and dots, so no draw names a real file, folder
or importable module (a spec like ``pkg.mod:fn`` would import and call user code).
"""

from __future__ import annotations

import string

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prunelimit.config import options_for, read_config
from prunelimit.data.loss import resolve_loss
from prunelimit.data.spec import load_dataset
from prunelimit.errors import PrunelimitError
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.spec import build_model
from prunelimit.specs import parse_spec
from tests.conftest import SPEC

SAFE = string.ascii_letters + string.digits + ":,=-_ x"
safe_text = st.text(alphabet=SAFE, max_size=40)
any_text = st.text(max_size=60).filter(lambda t: "/" not in t and "." not in t and "\\" not in t)
PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _ok_or_ours(fn, *args):
    """Run ``fn``; our own errors are fine, anything else fails the property."""
    try:
        return fn(*args)
    except PrunelimitError as exc:
        assert str(exc).strip()  # a message is always given
        return None


@PROFILE
@given(any_text)
def test_parse_spec_total(text):
    _ok_or_ours(parse_spec, text, "model")


small = st.integers(min_value=-3, max_value=40).map(str)
mlp_specs = st.builds(lambda sizes, extra: "mlp:" + ",".join(sizes) + extra,
                      st.lists(st.one_of(small, safe_text), max_size=5), st.sampled_from(["", ":x=1", ":", ":a"]))
zoo_specs = st.builds(lambda head, kv: f"{head}:{kv}" if kv else head,
                      st.sampled_from(["fc5", "lenet300", "lenet5", "nosuch", "torchvision", ""]),
                      st.one_of(st.just(""), safe_text,
                                st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["num_classes", "bogus", ""]),
                                          st.one_of(small, safe_text))))


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")  # num_classes=0, refused after
@PROFILE
@given(st.one_of(mlp_specs, zoo_specs, safe_text))
def test_build_model_total(text):
    model = _ok_or_ours(build_model, text)
    assert model is None or isinstance(model, torch.nn.Module)


data_specs = st.builds(
    lambda head, rest: f"{head}{rest}",
    st.sampled_from(["digits", "synthetic", "tensors", "cifar10", "mnist", "nosuch", ""]),
    st.one_of(
        st.just(""), st.sampled_from([":train", ":test", ":all", ":image=1"]),
        st.builds(lambda k, v: f":{k}={v}", st.sampled_from(["samples", "features", "classes", "shape", "seed", "x"]),
                  st.one_of(st.integers(-2, 50).map(str), st.sampled_from(["2x3", "0x4", "abc", "1e3", ""]))),
        safe_text.map(lambda t: ":" + t),
    ),
)


@PROFILE
@given(data_specs, st.one_of(st.none(), st.integers(-2, 50)))
def test_load_dataset_total(text, max_samples):
    ds = _ok_or_ours(load_dataset, text, False, max_samples)
    if ds is not None:
        assert len(ds) >= 1 and ds.x.shape[0] == ds.y.shape[0] and torch.isfinite(ds.x).all()


@PROFILE
@given(st.one_of(any_text, st.sampled_from(["ce", "mse", "nosuch:fn", "x:y:z"])))
def test_resolve_loss_total(text):
    _ok_or_ours(resolve_loss, text)


# --------------------------------------------------------------------------- YAML configs

KNOWN = ["data", "model", "batch_size", "max_samples", "iterations", "runs", "epsilon", "eta", "loss", "json",
         "seed", "device", "method"]
keys = st.one_of(st.sampled_from(KNOWN + ["bounds", "info", "gate", "rules", "max-samples"]), safe_text)
leaves = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                   safe_text, st.sampled_from(["digits", "digits:test", "cpu", "auto", "paper", "1e-3", "-1"]))
values = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(keys, inner, max_size=3)), max_leaves=6)
configs = st.one_of(st.dictionaries(keys, values, max_size=4), values)


@PROFILE
@given(configs)
def test_read_config_and_options_never_crash(tmp_path_factory, config):
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    data = _ok_or_ours(read_config, path)
    if data is not None:
        _ok_or_ours(options_for, data, "bounds", KNOWN, str(path))


@PROFILE
@given(st.binary(max_size=200))
def test_read_config_of_random_bytes(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_bytes(raw)
    data = _ok_or_ours(read_config, path)
    assert data is None or isinstance(data, dict)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ck") / "own.pt"
    save_checkpoint(path, SPEC, build_model(SPEC).state_dict())
    return path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=configs)
def test_cli_with_any_config_exits_cleanly(cli, ckpt, tmp_path_factory, config):
    """End to end through ``info --config``: exit 0, 2 or 3 with one short message; never 5."""
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    result = cli("info", ckpt, "--config", path, "--max-samples", "50")
    assert result.exit_code in (0, 2, 3), (result.exit_code, result.stderr, config)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if result.exit_code:
        assert result.stderr.startswith("prunelimit: error: ") and len(result.stderr.strip().splitlines()) <= 2
