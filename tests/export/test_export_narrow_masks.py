"""Exporting weights of a type torch has few kernels for (float8, uint16 to uint64), where the
pruning is given apart from them: ``prunelimit.export(..., masks=)`` and a ``torch.nn.utils.prune``
state dict whose ``weight_mask`` is float32 beside float8 ``weight_orig``."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

import prunelimit
from prunelimit.cli import app

NARROW = (torch.float8_e4m3fn, torch.float8_e5m2)
SIGNED = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def _bits(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.view(SIGNED[tensor.element_size()])


def _weights(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """A 6×10 weight in ``dtype`` with negative entries (their pruned zeros must read +0.0) and its
    keep-mask."""
    torch.manual_seed(0)
    weight = torch.randn(6, 10)
    return weight.to(dtype), weight.abs() > 0.7


def _pruned(weight: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``weight`` with every pruned entry all zero bits (+0.0), built bit by bit so it needs no
    kernel of ``weight``'s type."""
    bits = _bits(weight).clone()
    bits[~keep] = 0
    return bits.view(weight.dtype)


@pytest.mark.parametrize("dtype", [*NARROW, torch.uint16, torch.uint32])
def test_export_with_masks_writes_a_narrow_type_bit_for_bit(tmp_path, dtype):
    """``masks=`` zeroed the pruned weights with masked_fill, which torch has no kernel for in
    float8 or uint16/32/64: NotImplementedError, where the command line exports such a file."""
    weight, keep = _weights(torch.float32)
    weight = weight.to(dtype) if dtype.is_floating_point else (weight.abs() * 100).to(dtype)
    report = prunelimit.export({"0.weight": weight, "0.bias": torch.zeros(6)}, tmp_path / "m.safetensors",
                               masks={"0.weight": keep})
    back = prunelimit.load_sparse(tmp_path / "m.safetensors")
    assert back["0.weight"].dtype == dtype
    assert torch.equal(_bits(back["0.weight"]), _bits(_pruned(weight, keep)))
    assert report.file_bytes == (tmp_path / "m.safetensors").stat().st_size


@pytest.mark.parametrize("dtype", NARROW)
def test_a_float32_torch_prune_mask_beside_float8_weights_folds(tmp_path, dtype):
    """``weight_orig · weight_mask`` of float8 weights and a float32 mask raised "Promotion for
    Float8 Types is not supported": an internal error (exit 5) on the command line. The mask,
    0 or 1, is exact in the weights' type, as a float32 mask beside bfloat16 weights is."""
    weight, keep = _weights(dtype)
    state = {"0.weight_orig": weight, "0.weight_mask": keep.float(), "0.bias": torch.zeros(6, dtype=dtype)}
    torch.save(state, tmp_path / "tp.pt")
    out = tmp_path / "cli.safetensors"
    result = CliRunner().invoke(app, ["export", str(tmp_path / "tp.pt"), "-o", str(out), "--model", "mlp:10,6"])
    assert result.exit_code == 0, result.output
    prunelimit.export(state, tmp_path / "lib.safetensors")
    for path in (out, tmp_path / "lib.safetensors"):
        back = prunelimit.load_sparse(path)
        assert back["0.weight"].dtype == dtype
        assert torch.equal(_bits(back["0.weight"]), _bits(_pruned(weight, keep))), path.name
