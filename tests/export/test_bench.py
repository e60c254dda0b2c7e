"""`export --bench`: which layers run sparse, and that the sparse model is the one timed."""

from __future__ import annotations

import math

import torch
from torch import nn

from prunelimit.models.params import ParamSelection
from prunelimit.sparse.bench import MAX_REPEATS, MIN_REPEATS, WARMUP, SparseLinear, bench, paired_timings, sparse_copy


def _half_pruned(linear: nn.Linear) -> nn.Linear:
    with torch.no_grad():
        linear.weight[:, ::2] = 0
    return linear


def test_a_model_that_is_one_linear_layer_is_timed_sparse():
    torch.manual_seed(0)
    model = _half_pruned(nn.Linear(6, 5)).eval()
    sparse, converted, kept = sparse_copy(model, "csr", {""})
    assert isinstance(sparse, SparseLinear) and converted == ["(model)"] and kept == []
    x = torch.randn(4, 6)
    with torch.no_grad():
        assert torch.allclose(sparse(x), model(x), atol=1e-6)


def test_layers_whose_parent_reads_the_weight_stay_dense_and_are_named():
    """nn.MultiheadAttention reads out_proj.weight, the eval fast path of
    nn.TransformerEncoderLayer every weight: their Linear children are never called, and a
    sparse weight there would fail in a fused kernel."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    model = nn.Sequential(_half_pruned(nn.Linear(4, 8)), layer, _half_pruned(nn.Linear(8, 3))).eval()
    for child in (layer.linear1, layer.linear2, layer.self_attn.out_proj):
        _half_pruned(child)
    report = bench(model, torch.randn(2, 5, 4), (1, 2))
    assert report.sparse_layers == ["0", "2"]
    assert [k.split(" ")[0] for k in report.dense_layers] == ["1.self_attn.out_proj", "1.linear1", "1.linear2"]
    assert report.max_abs_diff < 1e-5
    # a pruned Q/K/V projection (a prunable weight of attention itself) is named among them too
    with torch.no_grad():
        layer.self_attn.in_proj_weight[:, ::2] = 0
    report = bench(model, torch.randn(2, 5, 4), (1,))
    assert report.dense_layers[0] == ("1.self_attn.in_proj_weight (MultiheadAttention's Q/K/V projection: "
                                      "only Linear layers run sparse)")


class ScaledLinear(nn.Linear):
    """A Linear subclass with a forward of its own (an output scale)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * super().forward(x)


def test_linear_layers_with_their_own_forward_or_hooks_stay_dense_and_say_why():
    """Swapping such a layer for a sparse Linear would drop what it adds: the timed sparse
    model would compute something else. A subclass that keeps Linear's forward
    (``out_proj``'s class, for one) still runs sparse."""
    torch.manual_seed(0)
    hooked = _half_pruned(nn.Linear(8, 8))
    hooked.register_forward_hook(lambda module, args, out: out + 1)
    plain = _half_pruned(nn.modules.linear.NonDynamicallyQuantizableLinear(8, 3))
    model = nn.Sequential(_half_pruned(ScaledLinear(4, 8)), hooked, plain).eval()
    report = bench(model, torch.randn(3, 4), (1,))
    assert report.sparse_layers == ["2"]
    assert report.dense_layers == ["0 (ScaledLinear has its own forward, which a sparse Linear would drop)",
                                   "1 (it has forward hooks of its own, which a sparse Linear would drop)"]
    assert report.max_abs_diff < 1e-5


def test_the_report_states_warm_up_and_timed_passes():
    model = nn.Sequential(_half_pruned(nn.Linear(6, 5))).eval()
    report = bench(model, torch.randn(4, 6), (1, 4)).to_json()
    assert report["warmup"] == WARMUP and report["threads"] == torch.get_num_threads()
    assert all(MIN_REPEATS <= row["repeats"] <= MAX_REPEATS for row in report["latency"])


def test_a_layer_without_a_sparse_kernel_for_its_dtype_stays_dense_and_says_why():
    """torch has no CSR matmul for float16 or bfloat16 on a CPU: those layers are kept dense
    (named, with torch's reason) instead of failing the run."""
    for dtype in (torch.float16, torch.bfloat16):
        model = nn.Sequential(_half_pruned(nn.Linear(8, 6)), nn.ReLU(), nn.Linear(6, 3)).to(dtype).eval()
        report = bench(model, torch.randn(4, 8, dtype=dtype), (1, 4))
        assert report.sparse_layers == [] and report.dense_layers[0].startswith("0 (torch has no csr kernel")
        # the "sparse" model is the dense one: one timing, not two medians whose noise read as
        # "faster" or "slower" on a busy machine
        assert all(row.sparse_ms == row.dense_ms and row.verdict == "no gain" for row in report.rows)


class _ReadsItsWeight(nn.Module):
    """Calls its Linear layer and also reads the weight: a sparse weight there has no kernel."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.out = _half_pruned(nn.Linear(8, 4)), _half_pruned(nn.Linear(4, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.fc(x) / self.fc.weight.norm())


def test_a_layer_whose_weight_the_model_reads_elsewhere_stays_dense_the_others_run_sparse():
    torch.manual_seed(0)
    report = bench(_ReadsItsWeight().eval(), torch.randn(4, 8), (1,))
    assert report.sparse_layers == ["out"]
    assert len(report.dense_layers) == 1 and report.dense_layers[0].startswith("fc (the model reads its weight")
    assert report.max_abs_diff < 1e-5


def test_two_four_keeps_a_layer_dense_whose_inputs_are_not_whole_groups_of_four():
    """prune --scope 2:4 prunes a last partial group too; such a layer used to be refused as
    "not 2:4 sparse, prune with --scope 2:4", which it was."""
    from prunelimit.pruning.magnitude import two_four_mask

    model = nn.Sequential(nn.Linear(6, 8))
    with torch.no_grad():
        model[0].weight.mul_(two_four_mask(model[0].weight))
    _, converted, kept = sparse_copy(model, "2:4", {"0"})
    assert converted == [] and kept == ["0 (6 inputs are not whole groups of 4)"]


def test_a_torchscript_model_is_timed_dense_and_says_why():
    """A scripted model's layers are compiled modules, not nn.Linear: the bench said "none (no
    pruned Linear layer)" of a pruned model; it now names why none runs sparse."""
    torch.manual_seed(0)
    model = torch.jit.script(nn.Sequential(_half_pruned(nn.Linear(6, 5)), nn.ReLU(), nn.Linear(5, 3)).eval())
    report = bench(model, torch.randn(4, 6), (1,))
    assert report.sparse_layers == [] and len(report.dense_layers) == 1
    assert "TorchScript" in report.dense_layers[0] and report.max_abs_diff == 0
    # the way out is a flag: `--model SPEC` loads the archive's weights into the eager model
    assert "--model SPEC" in report.dense_layers[0]


def test_a_pruned_weight_matrix_of_another_module_is_named_as_kept_dense():
    """An included recurrent layer's pruned ``weight_ih_l0`` has no sparse kernel swap: it
    is named among the dense layers with what holds it, not left out without a word; outside
    the prunable set (not included) it was not pruned, and is not named."""
    torch.manual_seed(0)
    rnn = nn.RNN(4, 4, batch_first=True)
    with torch.no_grad():
        rnn.weight_ih_l0[:, ::2] = 0
    _, converted, kept = sparse_copy(nn.Sequential(rnn), "csr", set(), ParamSelection(include=("0",)))
    assert converted == [] and kept == ["0.weight_ih_l0 (RNN's weight: only Linear layers run sparse)"]
    assert sparse_copy(nn.Sequential(rnn), "csr", set())[1:] == ([], [])


def test_a_pruned_convolution_is_named_plainly_and_a_model_without_linear_layers_is_timed_once():
    """It read "0.weight (a weight of the Conv2d itself, not a Linear layer)"."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten()).eval()
    with torch.no_grad():
        model[0].weight[:, :, ::2] = 0
    report = bench(model, torch.randn(2, 1, 5, 5), (1, 2))
    assert report.sparse_layers == [] and report.dense_layers == ["0.weight (Conv2d's weight: only Linear layers run sparse)"]
    assert all(r.sparse_ms == r.dense_ms and r.verdict == "no gain" for r in report.rows) and report.max_abs_diff == 0


def test_only_layers_in_the_prunable_set_run_sparse():
    """The bench converted every Linear layer holding a zero, whatever --include/--exclude
    said; it now converts the prunable set's (what was pruned) and names the others. A
    weight tied to an earlier layer's counts as that layer's, so it is in the set too."""
    torch.manual_seed(0)
    model = nn.Sequential(_half_pruned(nn.Linear(6, 6)), nn.ReLU(), _half_pruned(nn.Linear(6, 6)),
                          nn.ReLU(), nn.Linear(6, 6)).eval()
    x = torch.randn(3, 6)
    excluded = bench(model, x, (1,), selection=ParamSelection(exclude=("2",)))
    assert excluded.sparse_layers == ["0"] and excluded.dense_layers == ["2 (outside the prunable set: --exclude '2')"]
    assert excluded.max_abs_diff < 1e-5
    model[4].weight = model[0].weight  # tied: one Parameter, counted under "0.weight"
    assert bench(model, x, (1,)).sparse_layers == ["0", "2", "4"]


def test_dense_and_sparse_passes_alternate_and_the_spread_is_reported():
    """Timed in turn, each model saw the machine's load of its own stretch of time; passes
    that alternate share it. Each median comes with its interquartile range."""
    calls: list[str] = []
    timings = paired_timings((lambda: calls.append("d"), lambda: calls.append("s")), torch.device("cpu"))
    timed = calls[2 * WARMUP:]
    assert timed == ["d", "s"] * (len(timed) // 2) and len(timed) >= 2 * MIN_REPEATS
    assert [t.passes for t in timings] == [len(timed) // 2] * 2
    assert all(t.q1_s <= t.median_s <= t.q3_s for t in timings)
    row = bench(nn.Sequential(_half_pruned(nn.Linear(6, 5))).eval(), torch.randn(4, 6), (1,)).to_json()["latency"][0]
    assert 0 <= row["dense_iqr_ms"] and 0 <= row["sparse_iqr_ms"]


class _TwoOutputs(nn.Module):
    """Returns the logits and the hidden features in a tuple and a dict, as a model read with
    a loss of the user's own (``file.py:fn`` picks the output) may."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.head = _half_pruned(nn.Linear(6, 4)), nn.Linear(4, 3)

    def forward(self, x: torch.Tensor):
        h = torch.relu(self.fc(x))
        return self.head(h), {"features": h, "note": "not a tensor"}


def test_a_model_with_several_outputs_is_compared_on_every_tensor():
    """``model(x) - sparse(x)`` on a tuple was an internal error (exit 5); the largest
    difference is now taken over every tensor in the output."""
    torch.manual_seed(0)
    report = bench(_TwoOutputs().eval(), torch.randn(4, 6), (1, 4))
    assert report.sparse_layers == ["fc"] and 0 <= report.max_abs_diff < 1e-5  # float32 rounding of O(1) outputs


def test_a_nan_in_one_output_only_is_reported_not_hidden():
    """An inf input at a pruned weight is NaN dense (0 · inf) and finite sparse (the zero is
    skipped): Python's max(0.0, nan) reported the difference as 0."""
    model = nn.Linear(2, 1, bias=False).eval()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.0, 1.0]]))
    report = bench(model, torch.tensor([[float("inf"), 1.0]]), (1,))
    assert report.sparse_layers == ["(model)"] and math.isnan(report.max_abs_diff)
