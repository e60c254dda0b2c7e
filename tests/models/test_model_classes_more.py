"""More model classes a user brings: a factory that prunes with ``torch.nn.utils.prune``,
and a forward that uses some parameters without gradients (``torch.no_grad()``, ``.detach()``).

Tiny seeded models on the bundled digits; each CLI case checks the exit code, the counts
and the message.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import torch

from prunelimit import load_sparse

FACTORIES = textwrap.dedent("""
    import torch
    from torch import nn
    from torch.nn.utils import prune


    def mlp():
        return nn.Sequential(nn.Linear(64, 6), nn.ReLU(), nn.Linear(6, 10))


    def pruned():  # a model pruned with torch's own tool: weight_orig and the buffer weight_mask
        torch.manual_seed(0)
        model = mlp()
        prune.l1_unstructured(model[0], "weight", amount=0.5)
        return model


    class Tied(nn.Module):  # one weight in two modules, pruned by torch in each (as it must be)
        def __init__(self):
            super().__init__()
            self.a, self.b, self.head = nn.Linear(64, 64), nn.Linear(64, 64), nn.Linear(64, 10)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.head(self.b(self.a(x)))


    def tied():
        torch.manual_seed(0)
        model = Tied()
        prune.l1_unstructured(model.a, "weight", amount=0.5)
        prune.custom_from_mask(model.b, "weight", model.a.weight_mask)
        return model


    class Frozen(nn.Module):  # features computed without gradients: a frozen backbone
        def __init__(self):
            super().__init__()
            self.feat, self.head = nn.Linear(64, 6), nn.Linear(6, 10)

        def forward(self, x):
            with torch.no_grad():
                h = torch.relu(self.feat(x))
            return self.head(h)


    class Detached(Frozen):
        def forward(self, x):
            return self.head(torch.relu(self.feat(x)).detach())


    class Data(Frozen):
        def forward(self, x):
            return self.head(torch.relu(nn.functional.linear(x, self.feat.weight.data, self.feat.bias.data)))


    class Own(nn.Module):  # a weight matrix the model holds itself: no module but the model has it
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(10, 64) * 0.1)

        def forward(self, x):
            return x @ self.weight.T


    class Recurrent(nn.Module):  # an LSTM and no Linear: its weights are prunable with --include only
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(8, 10, batch_first=True)

        def forward(self, x):
            return self.rnn(x.view(x.shape[0], 8, 8))[0][:, -1]


    def own():
        return Own()


    def recurrent():
        return Recurrent()


    def frozen():
        return Frozen()


    def data():
        return Data()


    def detached():
        return Detached()
""")


@pytest.fixture
def nets(tmp_path):
    """The factory file, and the state dict of each of its models."""
    path = tmp_path / "nets.py"
    path.write_text(FACTORIES)
    ns: dict = {}
    exec(compile(FACTORIES, str(path), "exec"), ns)
    out = {}
    for name in ("pruned", "tied", "frozen", "detached", "data", "own", "recurrent"):
        torch.manual_seed(0)
        ckpt = tmp_path / f"{name}.pt"
        torch.save(ns[name]().state_dict(), ckpt)
        out[name] = (str(ckpt), f"{path}:{name}", ns[name])
    return out


def test_a_factory_that_prunes_with_torch_reads_its_own_state_dict(cli, nets, tmp_path):
    """The file holds ``0.weight_orig`` and ``0.weight_mask``, exactly the factory's keys: it was
    refused as "missing keys 0.weight_orig, 0.weight_mask; unexpected keys 0.weight; its
    weights are an MLP's" (the file is read as a weight and its mask, the factory's model was
    left with torch's reparametrisation). Now its pruning is the file's mask: N counts the
    masked weights as pruned, and prune and export keep them pruned."""
    ckpt, spec, factory = nets["pruned"]
    result = cli("info", ckpt, "--model", spec, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # the masked-out weights are weights of the model: in N and D, counted as pruned (zeros)
    assert report["params"] == {"total": 460, "prunable": 6 * 64 + 10 * 6, "hessian": 460}
    assert [(layer["name"], layer["zeros"]) for layer in report["layers"]] == [("0.weight", 192), ("2.weight", 0)]
    assert report["warnings"] == []

    out, sparse = tmp_path / "more.pt", tmp_path / "more.safetensors"
    result = cli("prune", ckpt, "--model", spec, "--ratio", "0.6", "-o", out, "--json")
    assert result.exit_code == 0, result.output
    layers = {layer["name"]: layer["total"] - layer["zeros"] for layer in json.loads(result.stdout)["layers"]}
    assert sum(layers.values()) == 444 - 267  # 0.6 of 444 weights, rounded up to whole weights
    result = cli("export", out, "--model", spec, "-o", sparse)
    assert result.exit_code == 0, result.output
    state = load_sparse(sparse)
    original = factory()
    kept = original[0].weight_mask.bool()
    assert torch.count_nonzero(state["0.weight"][~kept]) == 0  # torch's pruning stays pruned
    assert {name: int(torch.count_nonzero(state[name])) for name in layers} == layers
    # the file's weights are the torch-pruned model's: it rebuilds the model's outputs where the mask keeps
    torch.nn.utils.prune.remove(original[0], "weight")
    original[0].weight.data.mul_(state["0.weight"] != 0)
    original[2].weight.data.mul_(state["2.weight"] != 0)
    rebuilt = torch.nn.Sequential(torch.nn.Linear(64, 6), torch.nn.ReLU(), torch.nn.Linear(6, 10))
    rebuilt.load_state_dict(state)
    x = torch.randn(5, 64)
    torch.testing.assert_close(rebuilt(x), original(x), rtol=0, atol=0)  # the same weights: the same outputs


def test_a_plain_state_dict_for_a_factory_that_prunes_says_it_holds_no_mask(cli, nets, tmp_path):
    """The factory's pruning is made permanent so that its own state dict loads; a file of
    plain weights (saved before pruning) then holds no mask for what the factory prunes, and
    is read as it is: a warning says so rather than dropping the factory's pruning unsaid."""
    _, spec, factory = nets["pruned"]
    plain = tmp_path / "plain.pt"
    model = factory()
    torch.nn.utils.prune.remove(model[0], "weight")
    torch.manual_seed(1)
    torch.save({k: torch.randn_like(v) for k, v in model.state_dict().items()}, plain)  # no exact zeros
    result = cli("info", plain, "--model", spec, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [layer["zeros"] for layer in report["layers"]] == [0, 0]
    assert f"model {spec} prunes 0.weight with torch.nn.utils.prune, but checkpoint {plain} holds no mask for " \
           "them: they are read as the file holds them, with no mask; save the pruned model's own state_dict " \
           "(weight_orig and weight_mask) to keep its pruning" in report["warnings"]


def test_a_tied_weight_a_factory_prunes_is_one_masked_weight(cli, nets):
    """torch prunes a tied weight in each module that holds it; the file masks it under both
    names and it is one parameter, masked under its first: no warning that the second name
    holds no mask, and its zeros counted once."""
    ckpt, spec, _ = nets["tied"]
    result = cli("info", ckpt, "--model", spec, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["warnings"] == []
    assert [(layer["name"], layer["zeros"]) for layer in report["layers"]] == [("a.weight", 64 * 64 // 2), ("head.weight", 0)]


@pytest.mark.parametrize("name", ["frozen", "detached", "data"])
def test_parameters_used_without_gradients_are_not_said_to_be_unused(cli, nets, name):
    """A backbone run under ``torch.no_grad()`` (or ``.detach()``ed, or its weights' ``.data`` used) gives the loss no gradient,
    so its weights are zero-curvature directions in N and D, though pruning them changes the
    loss: the warning said "forward never uses them", which sends the reader looking for dead
    code. It now says how forward uses them, and both fixes."""
    ckpt, spec, _ = nets[name]
    result = cli("info", ckpt, "--model", spec, "--data", "digits:train", "--json")
    assert result.exit_code == 0, result.output
    (said,) = json.loads(result.stdout)["warnings"]
    assert "2 parameter(s) the loss gives no gradient (feat.weight, feat.bias): forward uses them without " \
           "gradients (under torch.no_grad(), or through .detach() or .data), so they count in N and D as " \
           "zero-curvature directions, which raise ρ* although pruning them changes the loss; leave them out with " \
           "--exclude 'feat' (a glob of module names), or compute forward with gradients" in said
    assert "never uses" not in result.output


def test_weights_used_without_gradients_and_unused_ones_are_named_apart(nets, recwarn):
    """A frozen backbone and a head forward never calls: one warning each, each with its cause
    (they were one warning saying forward never uses any of them); the library's caller gets
    its model back with the same values."""
    import prunelimit

    _, _, factory = nets["frozen"]
    model = factory()
    model.spare = torch.nn.Linear(64, 3)  # never called
    before = {k: v.clone() for k, v in model.state_dict().items()}
    prunelimit.inputs_from(model, (torch.randn(32, 64), torch.arange(32) % 10))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    said = sorted(str(w.message) for w in recwarn if "no gradient" in str(w.message))
    assert len(said) == 2, said  # the unused head apart from the weights used without gradients
    assert "(feat.weight, feat.bias): forward uses them without gradients" in said[0]
    assert "(spare.weight, spare.bias): forward never uses them" in said[1]


@pytest.mark.parametrize("name,held,pattern", [("own", "the model itself (Own)", "''"),
                                               ("recurrent", "'rnn' (LSTM)", "'rnn'")])
def test_no_prunable_weights_names_the_include_that_counts_them(cli, nets, tmp_path, name, held, pattern):
    """Weight matrices held by no Linear or convolution: the refusal said "widen it with
    --include/--exclude" and no pattern, and the one a matrix of the model itself needs, ``''``,
    is no module name a reader would guess. It names the module, its class and the include,
    which then runs."""
    ckpt, spec, _ = nets[name]
    command = ("prune", ckpt, "--model", spec, "--ratio", "0.5", "-o", tmp_path / "out.pt")
    result = cli(*command)
    assert result.exit_code == 2, result.output
    assert f"in the set in use; --include {pattern} counts the weight matrices of {held}, or widen it with " \
           "--include/--exclude" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out.pt").exists()
    result = cli(*command, "--include", pattern.strip("'"), "--json")
    assert result.exit_code == 0, result.output
    counted = sum(layer["total"] for layer in json.loads(result.stdout)["layers"])
    assert counted == {"own": 10 * 64, "recurrent": 4 * 10 * (8 + 10)}[name]


def test_an_excluded_module_is_not_offered_back():
    """What an exclude took out is the caller's choice: the refusal names only the flags."""
    import prunelimit
    from prunelimit.errors import UsageError

    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    with pytest.raises(UsageError, match=r"in the set in use; widen it with include/exclude$"):
        prunelimit.prune(model, 0.5, exclude=("0",))
