"""Model and data classes a user brings beyond the bundled MLP: group norm, tied and
frozen weights, outputs that are not one tensor, float types other than the data's,
labels of the wrong shape, and how the exact Hessian's columns are formed.

Tiny seeded models on the bundled digits; every CLI case checks the exit code and the
message, and no case needs more than a few hundred Hessian-vector products.
"""

from __future__ import annotations

import copy
import json
import textwrap

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.curvature.exact import CPU_COLUMN_BLOCK, columns_per_product, exact_hessian
from prunelimit.curvature.hvp import HessianOperator
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import InputError
from prunelimit.models.params import hessian_parameters, prunable_parameters

FACTORIES = textwrap.dedent("""
    import torch
    from torch import nn


    def mlp():
        return nn.Sequential(nn.Linear(64, 6), nn.ReLU(), nn.Linear(6, 10))


    def frozen():
        m = mlp()
        m[0].weight.requires_grad_(False)
        m[0].bias.requires_grad_(False)
        return m


    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = mlp()

        def forward(self, x):
            return self.net(x), x


    class Named(Pair):
        def forward(self, x):
            return {"logits": self.net(x)}


    def pair():
        return Pair()


    def named():
        return Named()


    def half():
        return mlp().half()


    def eight():  # a float type no layer computes in
        return mlp().to(torch.float8_e4m3fn)


    class Tokens(nn.Module):  # integer token ids straight into nn.Embedding, as token models take them

        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(17, 3)
            self.head = nn.Linear(64 * 3, 10)

        def forward(self, x):
            return self.head(self.emb(x).flatten(1))


    def tokens():
        return Tokens()


    class Attention(nn.Module):  # 16 tokens of 4 features through F.scaled_dot_product_attention
        def __init__(self):
            super().__init__()
            self.block = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0, batch_first=True)
            self.head = nn.Linear(4, 10)

        def forward(self, x):
            return self.head(self.block(x.view(x.shape[0], 16, 4)).mean(1))


    def attention():
        return Attention()


    def groupnorm():  # torch's batching rule for group norm's double backward fails: single products
        return nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 4, 3, padding=1), nn.GroupNorm(2, 4),
                             nn.ReLU(), nn.Flatten(), nn.Linear(4 * 64, 10))


    class Centred(nn.Module):  # a running mean updated whatever self.training says
        def __init__(self):
            super().__init__()
            self.net = mlp()
            self.register_buffer("mean", torch.zeros(64))

        def forward(self, x):
            self.mean.mul_(0.9).add_(0.1 * x.mean(0))
            return self.net(x - self.mean)


    class Counted(Centred):  # a buffer replaced by a new tensor on every call
        def forward(self, x):
            self.mean = self.mean + 1
            return self.net(x)


    class Noisy(Centred):  # dropout hard-wired on: random in eval mode
        def forward(self, x):
            return self.net(nn.functional.dropout(x, 0.5, training=True))


    def centred():
        return Centred()


    def noisy():
        return Noisy()


    def counted():
        return Counted()


    class Masked(Pair):  # two inputs: the data holds only x, so a loss function supplies the second
        def forward(self, x, mask):
            return self.net(x * mask)


    def masked():
        return Masked()


    def first_output(model, batch):
        return nn.functional.cross_entropy(model(batch[0])[0], batch[1])


    def logits_output(model, batch):
        return nn.functional.cross_entropy(model(batch[0])["logits"], batch[1])


    def with_mask(model, batch):
        return nn.functional.cross_entropy(model(batch[0], torch.ones_like(batch[0])), batch[1])
""")


@pytest.fixture
def nets(tmp_path):
    """A factory file and a checkpoint for each of its models (the weights are what
    ``torch.manual_seed(0)`` builds)."""
    path = tmp_path / "nets.py"
    path.write_text(FACTORIES)
    ns: dict = {}
    exec(compile(FACTORIES, str(path), "exec"), ns)
    out = {}
    for name in ("mlp", "frozen", "pair", "named", "half", "eight", "tokens", "attention", "groupnorm", "centred",
                 "counted", "noisy", "masked"):
        torch.manual_seed(0)
        ckpt = tmp_path / f"{name}.pt"
        torch.save(ns[name]().state_dict(), ckpt)
        out[name] = (str(ckpt), f"{path}:{name}")
    return out


def _bounds(cli, nets, name, *extra):
    ckpt, spec = nets[name]
    return cli("bounds", ckpt, "--model", spec, "--data", "digits:train", "--no-cache", *extra)


# ------------------------------------------------------------------- outputs and dtypes


@pytest.mark.parametrize("name,kind", [("pair", "tuple"), ("named", "dict")])
@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_output_that_is_not_one_tensor_is_an_input_error(cli, nets, name, kind, loss):
    result = _bounds(cli, nets, name, "--loss", loss)
    assert result.exit_code == 3, result.output
    assert f"returns a {kind}, not one output tensor" in result.output
    assert "--loss file.py:fn" in result.output
    assert "internal error" not in result.output


@pytest.mark.parametrize("name,loss", [("pair", "first_output"), ("named", "logits_output"), ("masked", "with_mask")])
def test_a_loss_function_for_a_model_not_called_as_model_x_prunes_without_accuracy(cli, nets, tmp_path, name, loss):
    """The documented way for a model whose forward returns a tuple or a dict, or takes more
    than x: the loss function calls it. Accuracy needs class scores from ``model(x)``, which
    such a model does not give, so none is reported (as for regression); the evaluation
    called ``model(x)`` anyway: internal error, exit 5."""
    ckpt, spec = nets[name]
    out = tmp_path / "pruned.pt"
    result = cli("prune", ckpt, "--model", spec, "--data", "digits:train", "--loss", f"{spec.rpartition(':')[0]}:{loss}",
                 "--ratio", "0.5", "-o", out, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["before"]["accuracy"] is None and report["after"]["accuracy"] is None
    assert report["after"]["loss"] > 0 and out.exists()


def test_a_model_that_takes_more_than_x_says_how_to_call_it(cli, nets):
    """It said "fails on data digits:train (TypeError: ...); check --model and --data", which
    are right: the fix is a loss function that calls the model with its other inputs."""
    ckpt, spec = nets["masked"]
    result = cli("info", ckpt, "--model", spec, "--data", "digits:train")
    assert result.exit_code == 3, result.output
    assert "missing 1 required positional argument: 'mask'" in result.output
    assert "its forward takes other inputs than x; pass --loss file.py:fn (fn(model, batch) -> mean loss) that calls it" \
        in result.output
    assert "Traceback" not in result.output


def test_model_in_a_float_type_no_layer_computes_in_says_so(cli, nets):
    """A float64, float16 or bfloat16 factory gets its data in its type
    (``tests/data/test_model_float_types.py``); a float8 one cannot run: refused, naming the
    types the data can be read in."""
    result = _bounds(cli, nets, "eight")
    assert result.exit_code == 3, result.output
    assert "has float8_e4m3fn parameters but data digits:train is read as float32" in result.output
    assert "build the model in one float type of float32, float64, float16 or bfloat16" in " ".join(result.output.split())


@pytest.mark.parametrize("dtype", ["float8_e4m3fn", "float8_e5m2"])
def test_a_whole_module_pickled_in_another_float_type_says_how_to_save_it(cli, tmp_path, dtype):
    """A pickled module is what it is (no factory to change): float8 weights failed with an
    internal error (no isfinite kernel); ``info`` without data reads it, data is refused
    naming the dtype and the fix (a float16 or bfloat16 module gets its data in its type:
    ``tests/data/test_model_float_types.py``)."""
    torch.manual_seed(0)
    path = tmp_path / "whole.pt"
    torch.save(nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)).to(getattr(torch, dtype)), path)
    result = cli("info", path, "--trust-pickle", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["params"]["prunable"] == 64 * 16 + 16 * 10
    result = cli("bounds", path, "--trust-pickle", "--data", "digits:train", "--no-cache")
    assert result.exit_code == 3, result.output
    assert f"has {dtype} parameters but data digits:train is read as float32; save the module in float32" in result.output
    assert "--model SPEC" in result.output and "internal error" not in result.output


def test_half_checkpoint_loads_into_a_float32_model(cli, nets, tmp_path):
    """What the dtype message promises: weights of any float type load into a float32 model."""
    half_ckpt, _ = nets["half"]
    _, spec = nets["mlp"]
    result = cli("bounds", half_ckpt, "--model", spec, "--data", "digits:train", "--no-cache", "--json",
                 "--method", "exact")
    assert result.exit_code == 0, result.output
    assert 0.0 <= json.loads(result.stdout)["prediction"]["ratio"] <= 1.0


def test_attention_model_has_a_limit(cli, nets):
    """Its Hessian-vector products differentiate attention twice: on the math kernel, as the
    fused ones (flash attention on a CPU) have no double backward."""
    result = _bounds(cli, nets, "attention", "--json", "--iterations", "8", "--runs", "1")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # attention's stacked Q/K/V projection (in_proj_weight), out_proj, linear1, linear2, head
    assert report["params"]["prunable"] == 3 * 4 * 4 + 4 * 4 + 8 * 4 + 4 * 8 + 10 * 4
    assert 0.0 <= report["prediction"]["ratio"] <= 1.0


@pytest.mark.parametrize("name", ["centred", "counted"])
def test_a_model_that_changes_its_buffers_in_eval_mode_is_refused_and_set_back(cli, nets, name):
    """Each pass of such a model is another function, so it has no one Hessian: the check of
    the model against the data said "the data loader is not deterministic" (of fixed
    tensors), and the library's passes changed the caller's model."""
    result = _bounds(cli, nets, name)
    assert result.exit_code == 3, result.output
    assert f"nets.py:{name} changes its buffers (mean) when it runs in eval mode" in result.output
    assert "if self.training" in result.output and "Traceback" not in result.output
    ns: dict = {}
    exec(FACTORIES, ns)
    model = ns[name]()
    before = model.mean
    x, y = torch.randn(8, 64), torch.arange(8)
    with pytest.raises(InputError, match="changes its buffers"):
        prunelimit.bounds(model, (x, y), batch_size=4)
    assert model.mean is before and torch.equal(model.mean, torch.zeros(64))


class _Centred(nn.Module):
    """A running mean of a submodule's, updated in place or replaced whatever self.training says."""

    def __init__(self, replaced: bool):
        super().__init__()
        self.lin, self.replaced = nn.Linear(6, 3), replaced
        self.register_buffer("mean", torch.zeros(6))

    def forward(self, x):
        if self.replaced:
            self.mean = self.mean + 1
        else:
            self.mean.mul_(0.9).add_(0.1 * x.mean(0))
        return self.lin(x - self.mean)


@pytest.mark.parametrize("replaced", [False, True])
def test_a_torchscript_model_that_changes_its_buffers_is_refused_and_set_back(replaced):
    """Setting the buffers back went through ``get_submodule``, which a TorchScript model has
    not: a RuntimeError instead of the input error, and the buffers left as forward wrote them."""
    model = torch.jit.script(nn.Sequential(_Centred(replaced)))  # the buffer in a submodule
    x, y = torch.randn(8, 6), torch.arange(8) % 3
    with pytest.raises(InputError, match=r"changes its buffers \(0\.mean\)"):
        prunelimit.bounds(model, (x, y), batch_size=4)
    assert torch.equal(model[0].mean, torch.zeros(6))


class _Rebuilt(nn.Module):
    """A non-persistent scale rebuilt to the same values on every call, as a new tensor or in place."""

    def __init__(self, in_place: bool):
        super().__init__()
        self.lin, self.in_place = nn.Linear(6, 3), in_place
        self.register_buffer("scale", torch.full((6,), 0.5), persistent=False)

    def forward(self, x):
        if self.in_place:
            self.scale.copy_(torch.full((6,), 0.5))
        else:
            self.scale = torch.full((6,), 0.5)
        return self.lin(x * self.scale)


@pytest.mark.parametrize("in_place", [False, True])
def test_a_buffer_recomputed_to_the_same_values_is_no_change(in_place):
    """The same function on every pass, so one Hessian: a buffer rebuilt as a new tensor of
    equal values was refused as 'changes its buffers' (the check compared tensor identity)."""
    torch.manual_seed(0)
    model, x, y = _Rebuilt(in_place), torch.randn(16, 6), torch.arange(16) % 3
    result = prunelimit.bounds(model, (x, y), batch_size=8, method="exact")
    assert 0.0 <= result.prediction.ratio <= 1.0
    assert torch.equal(model.scale, torch.full((6,), 0.5))


def test_a_model_that_is_random_in_eval_mode_is_refused_with_the_fix(cli, nets):
    """Dropout with training=True (or added noise): no one Hessian. It read "the data loader
    is not deterministic" of fixed tensors; now the model is named, with the fix."""
    result = _bounds(cli, nets, "noisy")
    assert result.exit_code == 3, result.output
    assert "nets.py:noisy gives another loss each time it runs on the same batch of data digits:train" \
        in result.output
    assert "training=self.training" in result.output and "Traceback" not in result.output


def test_batch_norm_statistics_stay_as_saved():
    """A batch norm model in training mode: the curvature is taken with its running statistics
    (eval mode) and none of its buffers moves."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 36, 4))
    x, y = torch.randn(32, 1, 8, 8), torch.arange(32) % 4
    model(x)  # running statistics away from their initial values
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    result = prunelimit.bounds(model, (x, y), batch_size=8, method="exact")
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    assert model.training
    evaluated = copy.deepcopy(model).eval().double()
    params = [p for _, p in hessian_parameters(evaluated)]
    op = HessianOperator(evaluated, params, [(x.double(), y)], cross_entropy_loss)
    assert result.spectrum.lambda_max == pytest.approx(float(torch.linalg.eigvalsh(exact_hessian(op))[-1]),
                                                       rel=1e-9)


@pytest.fixture
def token_data(tmp_path):
    """The digits' pixel values 0..16 as int64 token ids, 64 per sample."""
    from prunelimit.data.spec import load_dataset

    ds = load_dataset("digits:train", max_samples=256)
    path = tmp_path / "token-data.pt"
    torch.save({"x": (ds.x * 16).round().long(), "y": ds.y}, path)
    return path


@pytest.mark.parametrize("method", ["exact", "slq"])  # exact: the float64 spectrum's copy of the batches
def test_integer_tokens_reach_an_embedding_model_as_integers(cli, nets, token_data, method):
    ckpt, spec = nets["tokens"]
    plan = ("--iterations", "16", "--runs", "1") if method == "slq" else ()
    result = cli("bounds", ckpt, "--model", spec, "--data", f"tensors:{token_data}", "--no-cache", "--json",
                 "--method", method, *plan)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["params"] == {"hessian": 17 * 3 + 64 * 3 * 10 + 10, "prunable": 64 * 3 * 10}
    assert 0.0 <= report["prediction"]["ratio"] <= 1.0


def test_integer_tokens_train_and_verify(cli, nets, token_data, tmp_path):
    ckpt, spec = nets["tokens"]
    data = ("--data", f"tensors:{token_data}")
    result = cli("train", "--model", spec, *data, "--epochs", "1", "--output", tmp_path / "t.pt")
    assert result.exit_code == 0, result.output
    result = cli("verify", ckpt, "--model", spec, *data, "--no-cache", "--iterations", "8", "--runs", "1")
    assert result.exit_code == 0, result.output


def test_integer_inputs_to_a_model_of_real_inputs_say_how_to_convert(cli, nets, token_data):
    ckpt, spec = nets["mlp"]
    result = cli("bounds", ckpt, "--model", spec, "--data", f"tensors:{token_data}", "--no-cache")
    assert result.exit_code == 3, result.output
    assert "save it as floats (x.float())" in result.output and "internal error" not in result.output


@pytest.mark.parametrize("labels", ["column", "one-hot"])
def test_labels_that_are_not_one_class_per_sample_say_how_to_convert(cli, nets, tmp_path, labels):
    from prunelimit.data.spec import load_dataset

    ds = load_dataset("digits:train", max_samples=64)
    y = ds.y[:, None] if labels == "column" else nn.functional.one_hot(ds.y, 10)
    data = tmp_path / "data.pt"
    torch.save({"x": ds.x, "y": y}, data)
    ckpt, spec = nets["mlp"]
    result = cli("bounds", ckpt, "--model", spec, "--data", f"tensors:{data}", "--no-cache")
    assert result.exit_code == 3, result.output
    assert f"y has shape {tuple(y.shape)}" in result.output
    assert "1-D y" in result.output


# ---------------------------------------------------------------------- frozen weights


def test_frozen_prunable_weights_are_named_in_a_warning(cli, nets):
    result = _bounds(cli, nets, "frozen", "--json", "--method", "exact")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["params"] == {"hessian": 6 * 10 + 10, "prunable": 64 * 6 + 6 * 10}
    frozen = [w for w in report["warnings"] if "frozen" in w]
    assert len(frozen) == 1 and "384 prunable weights (0.weight)" in frozen[0] and "--exclude" in frozen[0]


def test_spectrum_names_the_frozen_prunable_weights_its_rho_leaves_out(cli, nets):
    """`spectrum` states ρ* ± as `bounds` does, over the same Hessian without the frozen
    weights, but said nothing of them: `bounds` and `prune` warned, `spectrum` did not."""
    ckpt, spec = nets["frozen"]
    result = cli("spectrum", ckpt, "--model", spec, "--data", "digits:train", "--no-cache", "--json", "--method",
                 "exact")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["prediction"]["ratio"] is not None
    frozen = [w for w in report["warnings"] if "frozen" in w]
    assert len(frozen) == 1 and "384 prunable weights (0.weight)" in frozen[0]


@pytest.mark.parametrize("command", ["bounds", "spectrum"])
def test_a_model_with_every_parameter_frozen_is_refused_with_the_fix(cli, nets, tmp_path, command):
    """D = 0: exit 2 naming what to change (it was exit 5, a ZeroDivisionError planning the solver)."""
    ckpt, spec = nets["mlp"]
    factory = tmp_path / "all_frozen.py"
    factory.write_text(f"import sys; sys.path.insert(0, {str(tmp_path)!r}); from nets import mlp\n"
                       "def build():\n    m = mlp()\n    m.requires_grad_(False)\n    return m\n")
    result = cli(command, ckpt, "--model", f"{factory}:build", "--data", "digits:train", "--no-cache")
    assert result.exit_code == 2, result.output
    assert "no parameters for the Hessian: every selected parameter is frozen" in result.stderr
    assert "--include/--exclude" in result.stderr


def test_trainable_model_has_no_frozen_warning(cli, nets):
    result = _bounds(cli, nets, "mlp", "--json", "--method", "exact")
    assert result.exit_code == 0, result.output
    assert not [w for w in json.loads(result.stdout)["warnings"] if "frozen" in w]


# ----------------------------------------------------------------------- tied weights


class _Tied(nn.Module):
    """``b`` and ``c`` share one weight (two modules, one parameter)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(5, 4)
        self.b = nn.Linear(4, 4)
        self.c = nn.Linear(4, 4)
        self.c.weight = self.b.weight
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return self.head(torch.tanh(self.c(torch.tanh(self.b(torch.tanh(self.a(x)))))))


def test_a_shared_parameter_counts_once():
    model = _Tied()
    unique = {id(p) for p in model.parameters()}
    hessian = hessian_parameters(model)
    prunable = prunable_parameters(model)
    assert len(hessian) == len(unique) == len({id(p) for _, p in hessian})
    assert [n for n, _ in prunable] == ["a.weight", "b.weight", "head.weight"]
    assert {n for n, _ in hessian} <= set(dict(model.named_parameters()))  # the names masks are keyed by


def test_hessian_of_a_tied_model_is_that_of_its_unique_parameters():
    """The operator over the selected parameters is the true Hessian: against
    ``torch.func.hessian`` over the same flat vector (float64; rounding only, 1e-10)."""
    torch.manual_seed(0)
    model = _Tied().double().eval()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(16, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (16,), generator=gen)
    named = hessian_parameters(model)
    op = HessianOperator(model, [p for _, p in named], [(x, y)], cross_entropy_loss)
    dense = exact_hessian(op)
    flat = torch.cat([p.detach().reshape(-1) for _, p in named])
    shapes = [(n, p.shape, p.numel()) for n, p in named]

    def loss(v):
        params, start = {}, 0
        for n, shape, size in shapes:
            params[n] = v[start:start + size].view(shape)
            start += size
        params["c.weight"] = params["b.weight"]  # the tie, as the module has it
        return nn.functional.cross_entropy(torch.func.functional_call(model, params, (x,)), y)

    expected = torch.func.hessian(loss)(flat)
    assert dense.shape == expected.shape
    assert torch.allclose(dense, expected, rtol=0, atol=1e-10)


# ------------------------------------------------------- group norm and exact columns


def _group_norm_operator(engine: str) -> HessianOperator:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 16, 3)).double()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(10, 1, 4, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (10,), generator=gen)
    params = [p for n, p in hessian_parameters(model)]
    return HessianOperator(model, params, [(x[:5], y[:5]), (x[5:], y[5:])], cross_entropy_loss, engine=engine)


@pytest.mark.parametrize("engine", ["cached", "revrev"])
def test_group_norm_products_fall_back_to_single_ones(engine):
    """torch's batching rule for group norm's double backward fails on shapes (not a
    "batching rule" message): the products still come, one at a time, announced once."""
    op = _group_norm_operator(engine)
    columns = torch.eye(op.dim, dtype=torch.float64)[:, :3]
    with pytest.warns(UserWarning, match="one at a time"):
        batched = op.matmat(columns)
    assert op.fallback is not None
    single = torch.stack([op.matvec(c) for c in columns.T], dim=1)
    assert torch.allclose(batched, single, rtol=0, atol=1e-14)  # the same products, same code path


def test_a_warning_shown_during_the_run_is_not_repeated_in_the_report(cli, nets):
    """The fallback to single products is announced on stderr when it happens; the console
    report leaves it out (once on a console), the JSON keeps it."""
    args = ("--method", "slq", "--hvp", "revrev", "--max-hvps", "12", "--max-samples", "64", "--batch-size", "16")
    shown = _bounds(cli, nets, "groupnorm", *args)
    assert shown.exit_code == 0, shown.output
    assert shown.stderr.count("taking them one at a time") == 1 and "one at a time" not in shown.stdout
    doc = json.loads(_bounds(cli, nets, "groupnorm", *args, "--json").stdout)
    assert any("taking them one at a time" in w for w in doc["warnings"])


def test_exact_columns_one_at_a_time_on_a_kept_graph():
    """On a CPU the kept-graph engine forms the exact Hessian column by column (faster per
    column, no k-fold activations); the recomputing one in blocks. Both give the same
    matrix (float64 products; rounding only, 1e-12)."""
    cached, revrev = _group_norm_operator("cached"), _group_norm_operator("revrev")
    assert columns_per_product(cached) == 1 and columns_per_product(revrev) == CPU_COLUMN_BLOCK
    with pytest.warns(UserWarning, match="one at a time"):  # group norm: the block falls back
        blocks = exact_hessian(revrev)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # single products: no batched pass to fall back from
        columns = exact_hessian(cached)
    assert cached.fallback is None
    assert torch.allclose(columns, blocks, rtol=0, atol=1e-12)
