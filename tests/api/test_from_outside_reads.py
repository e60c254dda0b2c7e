"""A saved prediction is refused for a model that reads something else besides its state dict and code
(``weights.reads`` of a report): a buffer the state dict leaves out (``persistent=False``) that a factory
fills from a file, a file the forward opens by name (in Python, or in a ``@torch.jit.ignore`` method a scripted
module calls back), an environment variable it reads (by a name built at run time too). Each here scales the
gradient alone, so the weights, the Python code and the loss on the data are the same, and ``gate --from``
gated the new model on the old one's ρ* in silence (83.12 % read, where ``--no-cache`` computes 53.11 %), where
the result cache missed (it keys the first three, and never stores the scripted one)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from tests.conftest import nets_arguments, report_read_back

# an MLP whose gradient through its hidden layer is scaled by g (the forward is the same for any g), g read
# five ways: a non-persistent buffer the factory fills from g.txt, g.txt opened in forward or in a scripted
# module's ignored method, $PL_TEST_GSCALE named by a string or by a name built at run time
NETS_PY = '''import os
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


class Net(nn.Module):
    def __init__(self, g=1.0):
        super().__init__()
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)
        self.register_buffer("g", torch.tensor(float(g)), persistent=False)

    def scale(self):
        return self.g

    def forward(self, x):
        h, g = torch.relu(self.a(x)), self.scale()
        return self.b(h * g + (h * (1 - g)).detach())


class Opened(Net):
    def scale(self):
        with open(os.path.join(HERE, "g.txt")) as file:
            return float(file.read())


class Variable(Net):
    def scale(self):
        return float(os.environ.get("PL_TEST_GSCALE", "1.0"))


PREFIX = "PL_TEST"


class Built(Net):
    def scale(self):
        return float(os.environ.get(PREFIX + "_GSCALE", "1.0"))  # a name no string of the code holds


class Ignored(nn.Module):
    """Scripted: its gradient scale read in Python, by a method TorchScript calls back (which cannot be saved)."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)

    @torch.jit.ignore
    def scale(self, h: torch.Tensor) -> torch.Tensor:
        with open(os.path.join(HERE, "g.txt")) as file:
            g = float(file.read())
        return h * g + (h * (1 - g)).detach()

    def forward(self, x):
        return self.b(self.scale(torch.relu(self.a(x))))


def ignored():
    return torch.jit.script(Ignored())


def buffer():
    with open(os.path.join(HERE, "g.txt")) as file:
        return Net(file.read())


def opened():
    return Opened()


def variable():
    return Variable()


def built():
    return Built()
'''
DIFFERS = "what the model reads besides its state dict and code differs"


def _arguments(tmp_path, factory: str) -> tuple:
    """The arguments of a command on :data:`NETS_PY`'s ``factory``, its weights saved and ``g.txt`` holding 1.0."""
    return nets_arguments(tmp_path, NETS_PY, factory, **{"g.txt": "1.0"})


@pytest.mark.parametrize("factory", ["buffer", "opened", "variable", "built", "ignored"])
def test_a_model_reading_another_value_outside_its_state_dict_is_refused_and_the_cache_misses(
        cli, tmp_path, monkeypatch, factory):
    monkeypatch.delenv("PL_TEST_GSCALE", raising=False)
    args = _arguments(tmp_path, factory)
    made, report = report_read_back(cli, tmp_path, *args)  # the same model reads its own report
    assert made["weights"]["reads"]
    hit = json.loads(cli("gate", *args, "--min-ratio", 0, "--json").stdout)
    assert hit["cache_hit"] is (factory != "ignored")  # and the cache holds it (a module that cannot be saved: never)
    if factory in ("variable", "built"):
        monkeypatch.setenv("PL_TEST_GSCALE", "0.2")
    else:
        (tmp_path / "g.txt").write_text("0.2")
    for command in (("gate", "--min-ratio", 0, "--use", "predicted"), ("verify",)):
        refused = cli(command[0], *args, "--from", report, *command[1:])
        assert refused.exit_code == 2, refused.stdout
        assert DIFFERS in refused.stderr and "drop --from" in refused.stderr
    # the cache keys what it reads (the bounds above stored the old value's spectrum): a miss, the new ρ*
    fresh = json.loads(cli("gate", *args, "--min-ratio", 0, "--json").stdout)
    assert not fresh["cache_hit"]
    assert fresh["rules"][0]["measured"] < made["prediction"]["ratio"] - 0.1  # 53.11 % against 83.12 %


def test_an_older_report_is_read_saying_it_does_not_record_them(cli, tmp_path):
    """A report of an older prunelimit (no ``weights.reads``) is read as before, with a warning that it cannot tell."""
    args = _arguments(tmp_path, "buffer")
    older = json.loads(cli("bounds", *args, "--json").stdout)
    del older["weights"]["reads"]
    report = tmp_path / "older.json"
    report.write_text(json.dumps(older))
    read = cli("gate", *args, "--from", report, "--min-ratio", 0, "--json")
    assert read.exit_code == 0, read.stderr
    assert any("does not record its model's reads besides its state dict and code (an older report)" in w
               for w in json.loads(read.stdout)["warnings"])


def test_a_library_models_buffer_changed_in_place_is_refused_a_report_of_the_old_value(train):
    """``prediction_from=`` a result in hand alike: the module's non-persistent buffer set since is refused."""
    import prunelimit
    from prunelimit.errors import UsageError

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)
            self.register_buffer("g", torch.tensor(1.0), persistent=False)

        def forward(self, x):
            h = torch.relu(self.a(x))
            return self.b(h * self.g + (h * (1 - self.g)).detach())

    torch.manual_seed(0)
    model = Net()
    report = prunelimit.bounds(model, train)
    assert prunelimit.gate(model, train, min_ratio=0.0, use="predicted", prediction_from=report).passed
    model.g.fill_(0.2)
    with pytest.raises(UsageError, match=DIFFERS):
        prunelimit.gate(model, train, min_ratio=0.0, use="predicted", prediction_from=report)


def test_a_model_naming_a_folder_too_large_to_key_still_reads_its_own_report(train, tmp_path, monkeypatch):
    """A folder the code names that holds more entries than are keyed (``FOLDER_ENTRIES``, here 2 for 3 files:
    a data set's root) records ``weights.reads`` null, not the model's code as unreadable: its own report reads."""
    import prunelimit
    from prunelimit import cache_reads

    folder = tmp_path / "images"
    folder.mkdir()
    for name in "abc":
        (folder / f"{name}.txt").write_text(name)
    monkeypatch.setattr(cache_reads, "FOLDER_ENTRIES", 2)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10))
    model.root = str(folder)
    report = prunelimit.bounds(model, train)
    assert report.to_json()["weights"]["reads"] is None and report.to_json()["weights"]["python"]
    assert prunelimit.gate(model, train, min_ratio=0.0, use="predicted", prediction_from=report).passed


def test_a_file_the_python_of_a_scripted_module_names_is_read_past_the_first_batch_too(train, tmp_path):
    """What a scripted module's ``@torch.jit.ignore`` method runs is walked for what its strings name, as an
    eager module's code: here a file read only where the Hessian's products are formed (a graph of the
    gradient), after the first batch's forward and gradient, whose opened files alone were keyed. Its
    report recorded ``weights.reads`` null and was read for the file's other value: 89.75 % where the model's
    is 91.34 %."""
    import prunelimit
    from prunelimit.errors import UsageError

    scale = tmp_path / "g.txt"
    scale.write_text("1.0")

    class Curve(torch.autograd.Function):
        """The identity, whose gradient's own gradient is scaled by g.txt's value (its gradient is not)."""

        @staticmethod
        def forward(ctx, h):
            return h.view_as(h)

        @staticmethod
        def backward(ctx, grad):
            if not torch.is_grad_enabled():  # a first-order gradient
                return grad
            g = float(scale.read_text())
            return grad * g + (grad * (1 - g)).detach()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)

        @torch.jit.ignore
        def curve(self, h):  # a tensor in and out, as TorchScript takes an unannotated method
            return Curve.apply(h)

        def forward(self, x):
            return self.b(self.curve(torch.relu(self.a(x))))

    torch.manual_seed(0)
    model = torch.jit.script(Net())
    report = prunelimit.bounds(model, train)
    assert report.to_json()["weights"]["reads"]
    assert prunelimit.gate(model, train, min_ratio=0.0, use="predicted", prediction_from=report).passed
    scale.write_text("0.2")
    with pytest.raises(UsageError, match=DIFFERS):
        prunelimit.gate(model, train, min_ratio=0.0, use="predicted", prediction_from=report)


def test_a_library_models_file_opened_by_a_built_name_is_refused_a_report_of_its_other_bytes(train, tmp_path,
                                                                                            monkeypatch):
    """A model in hand whose forward opens a file no string names (its name built from character codes) is
    keyed by what the first batch opens, as a ``--model`` is on the command line: the library recorded no
    opens, its report's ``weights.reads`` left the file out, and ``prediction_from=`` read it for the file's
    other value (89.75 % where the model's is 93.70 %)."""
    import prunelimit
    from prunelimit.errors import UsageError

    codes = [103, 46, 116, 120, 116]  # g.txt, in the working folder (which counts by the files named in it alone)
    monkeypatch.chdir(tmp_path)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)

        def forward(self, x):
            with open("".join(map(chr, codes))) as file:
                g = float(file.read())
            h = torch.relu(self.a(x))
            return self.b(h * g + (h * (1 - g)).detach())

    (tmp_path / "g.txt").write_text("1.0")
    torch.manual_seed(0)
    model = Net()
    report = prunelimit.bounds(model, train)
    assert prunelimit.gate(model, train, min_ratio=0.0, use="predicted", prediction_from=report).passed
    (tmp_path / "g.txt").write_text("0.2")
    with pytest.raises(UsageError, match=DIFFERS):
        prunelimit.gate(model, train, min_ratio=0.0, use="predicted", prediction_from=report)
