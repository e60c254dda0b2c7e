"""ε is read alike on every path (docs/guide.md, "ε"): one input, one ε or one refusal, from
``bounds`` (exact or SLQ), ``verify``, ``gate --use actual`` and ``prune --ratio auto``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunelimit.errors import OptionError
from prunelimit.theory.epsilon import epsilon_from_losses
from tests.conftest import SMALL_SPEC

REFUSAL = ("prunelimit: error: all per-batch losses are equal (up to rounding), so --epsilon would be 0; give "
           "--epsilon explicitly\n")


@pytest.fixture
def zero_ckpt(tmp_path):
    """Every weight 0: the logits are 0, so every sample's loss is ln 10 and so is every
    batch's mean, up to the rounding of its float32 sum."""
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.models.spec import build_model

    model = build_model(SMALL_SPEC)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    return save_checkpoint(tmp_path / "zero.pt", SMALL_SPEC, model.state_dict(), meta={"data": "digits:train"})


def test_a_constant_loss_summed_in_float32_has_no_tolerance():
    """Batch means of one constant loss over batches of unequal size differ in float32 by
    rounding alone (~1e-8 relative): that spread is no ε, as the float64 sums' exact 0 is none."""
    sizes = [128, 128, 44]
    losses = [float(torch.full((n,), float(np.log(10)), dtype=torch.float32).mean()) for n in sizes]
    losses[0] = float(np.nextafter(np.float32(losses[0]), np.float32(3)))  # one float32 step apart
    assert np.std(losses) > 0
    with pytest.raises(OptionError, match="equal"):
        epsilon_from_losses(losses)
    # a real spread, however small beside the loss (1e-4 relative), is kept as it is
    real = [2.3, 2.3 * (1 + 1e-4), 2.3 * (1 - 1e-4)]
    assert epsilon_from_losses(real) == pytest.approx(float(np.std(real)), rel=1e-12)


@pytest.mark.parametrize("command", [
    ("bounds",), ("bounds", "--method", "slq"), ("verify",), ("gate", "--use", "actual", "--min-ratio", "0.5"),
    ("prune", "--ratio", "auto", "-o", "{out}"),
])
def test_every_path_refuses_the_all_zero_model_alike(cli, zero_ckpt, tmp_path, command):
    """The all-zero model's losses are equal: ``bounds`` refused for want of ε while ``gate --use
    actual`` and ``bounds --method slq`` took ε = 6.6e-08 from float32 rounding and passed at
    99.9 %. Each now refuses with the same line and exit code 2, writing nothing."""
    out = tmp_path / "pruned.pt"
    args = [a.replace("{out}", str(out)) for a in command]
    result = cli(*args, zero_ckpt, "--max-samples", "300", "--threads", "1")
    assert result.exit_code == 2, result.output
    assert result.stderr == REFUSAL
    assert not out.exists()
    # the fix it names works (prune then says why ρ* = 100 % is no ratio to prune to)
    given = cli(*args, zero_ckpt, "--max-samples", "300", "--threads", "1", "--epsilon", "0.01")
    assert given.exit_code == (2 if command[0] == "prune" else 0), given.output
    assert "per-batch losses" not in given.stderr


@pytest.fixture
def plain_small_ckpt(tmp_path):
    """An untrained (seeded) small MLP: its batch losses vary, so ε is derived."""
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.models.spec import build_model

    torch.manual_seed(0)
    model = build_model(SMALL_SPEC)
    return save_checkpoint(tmp_path / "plain.pt", SMALL_SPEC, model.state_dict(), meta={"data": "digits:train"})


def test_every_path_derives_the_same_epsilon_to_the_last_bit(cli, plain_small_ckpt):
    """The exact spectrum took ε from its float64 copy's losses, SLQ and the measured search
    from float32 ones: the bundled example's ε read 0.017292483844500852 in ``bounds`` and
    0.017292484501013707 in ``bounds --method slq`` and ``gate --use actual``. Each command's
    JSON now states one ε, equal to the last bit (the same float32 passes feed it)."""
    import json

    common = (plain_small_ckpt, "--max-samples", "300", "--threads", "1", "--json")
    seen = {}
    for args in (("bounds",), ("bounds", "--method", "exact"), ("bounds", "--method", "slq"), ("verify",),
                 ("gate", "--use", "actual", "--min-ratio", "0")):
        result = cli(*args, *common)
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        doc = doc if "epsilon" in doc else doc["bounds"]  # the gate nests the report it read
        assert doc["epsilon_source"] == "std of per-batch losses"
        seen[args] = doc["epsilon"]
    assert len(set(seen.values())) == 1, seen


@pytest.mark.parametrize(("options", "fix"), [
    (("--batch-size", "500"), "got 1 (the data holds 300 samples); use a smaller --batch-size"),
    (("--max-samples", "1", "--batch-size", "1"), "got 1 (the data holds 1 sample); use more data"),
])
def test_one_batch_is_refused_alike_with_the_fix_that_fits(cli, plain_small_ckpt, tmp_path, options, fix):
    """One analysis batch defines no ε. ``gate --use actual`` (and the spectrum's note) said
    "got 1; use a smaller --batch-size" even for one sample, which no batch size cuts, while
    ``bounds`` said how many samples the data held and, for one, to use more data."""
    line = (f"--epsilon from per-batch losses needs at least 2 analysis batches, {fix} or give --epsilon "
            "explicitly")
    out = tmp_path / "pruned.pt"
    for args in (("bounds",), ("verify",), ("gate", "--use", "actual", "--min-ratio", "0"),
                 ("prune", "--ratio", "auto", "-o", out)):
        result = cli(*args, plain_small_ckpt, "--max-samples", "300", *options, "--threads", "1")
        assert result.exit_code == 2, result.output
        assert result.stderr == f"prunelimit: error: {line}\n", args
    assert not out.exists()
    spectrum = cli("spectrum", plain_small_ckpt, "--max-samples", "300", *options, "--threads", "1")
    assert spectrum.exit_code == 0 and line in " ".join(spectrum.output.split())


def test_a_given_epsilon_within_the_losss_rounding_is_warned_of_alike_on_every_path(cli, plain_small_ckpt, tmp_path):
    """A derived ε within the float32 rounding of the loss is refused (above), while a given
    ``--epsilon 1e-30`` on a loss of ~2.3 was taken in silence by ``gate --use actual`` (a
    measured limit of ε = 0) and warned of by ``bounds`` only where the float64 products'
    rounding moved ρ*. Every path now says it in one line, the same words."""
    import re

    seen = {}
    out = tmp_path / "pruned.pt"
    for args in (("bounds", "--method", "exact"), ("verify", "--method", "exact"),
                 ("gate", "--use", "actual", "--min-ratio", "0"),
                 ("prune", "--ratio", "auto", "--method", "exact", "-o", out)):
        result = cli(*args, plain_small_ckpt, "--max-samples", "300", "--threads", "1", "--epsilon", "1e-30")
        assert result.exit_code == 0, result.output
        text = " ".join(result.output.split())  # one line, however rich or the terminal folded it
        seen[args[0]] = re.findall(r"--epsilon 1e-30 is 0 up to rounding: .*?a loss change that matters", text)
    (line,) = seen["bounds"]
    loss = float(re.search(r"the loss (\S+) below", line).group(1))
    # the rounding a derived ε must exceed: 64 float32 steps of the loss (theory.epsilon.ROUNDING_STEPS)
    assert line == (f"--epsilon 1e-30 is 0 up to rounding: a change of the loss {loss:.4g} below about "
                    f"{64 * float(np.finfo(np.float32).eps) * loss:.2g} (64 float32 steps) is rounding, so L + ε is L "
                    "and any change pruning makes reads as past it; give a larger --epsilon, a loss change that matters")
    assert all(found == [line] for found in seen.values()), seen
    # an ε a loss change can reach is no rounding: not warned of
    fine = cli("gate", "--use", "actual", "--min-ratio", "0", plain_small_ckpt, "--max-samples", "300", "--threads", "1",
               "--epsilon", "1e-3")
    assert fine.exit_code == 0 and "up to rounding" not in fine.output
