"""Two gloo ranks on the CPU give the single-process numbers (issue 11, docs/scaling.md).

300 digits samples in batches of 64 make 5 batches (the last one of 44), split 3/2 over
two ranks: an uneven shard with a short last batch. Each rank runs ``bounds`` (exact
spectrum, and SLQ on H for the replicated Lanczos path, also on a curvature subset whose
parts leave rank 1 without a batch, and the exact spectrum on one batch), ``verify`` and
the measured limit alone (a gate on ``actual``); rank 0's JSON
must equal a single process's to 1e-5 relative, timings aside, and SLQ's ± and its parts
to 1e-5 absolute (docs/scaling.md: differences of near-equal estimates, such as the
spread over probes, lose the relative precision of the estimates). Tolerance: sharding
changes only the order of the float32 HVP/loss summations (about 1e-7 relative), and
per-batch losses are bit-identical, so 1e-5 leaves two orders of margin. A CLI run
under the same group checks that rank 1 prints nothing (its user code neither) and writes no file, and one on a
bad checkpoint that the ranks give one error line between them and one exit code, as ranks
given other curvature options do.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from prunelimit import api, distributed
from prunelimit.cache import open_store
from prunelimit.api.verification import measured_limit
from prunelimit.inputs import load_inputs
from prunelimit.report.jsonout import document

WORLD = 2
ARGS = ["--data", "digits:train", "--max-samples", "300", "--batch-size", "64", "--device", "cpu"]
REL = 1e-5  # see the module doc
PLUS_MINUS_ABS = 1e-5  # the ± and its parts, in ratio units (module doc)
PLUS_MINUS_KEYS = {"spread", "stderr", "uncertainty", "plus_minus"}
CONFIGS = {
    "exact": api.CurvatureOptions(),
    "slq": api.CurvatureOptions(method="paper", iterations=24, runs=2),
    # recomputing engine: the two runs advance in lockstep through one batched product
    "slq-lockstep": api.CurvatureOptions(method="paper", iterations=24, runs=2, hvp="revrev"),
    # rank 0's shard (192 samples, ~0.031 MB of graphs) exceeds this budget, rank 1's (108,
    # ~0.017 MB) does not: both must still pick the same engine, or their collectives differ
    "slq-split-budget": api.CurvatureOptions(method="paper", iterations=24, runs=2, memory_budget_mb=0.025),
    # a curvature subset of 100 is 2 batches (64 + 36) and each of its 4 parts 1: rank 1's part
    # shards are empty, and it adds zeros (it was refused: "1 analysis batch(es) cannot be split over 2 ranks")
    "slq-subset-parts": api.CurvatureOptions(method="slq", iterations=24, runs=2, hessian_samples=100),
}


def _inputs(ckpt: str):
    return load_inputs(ckpt, data="digits:train", batch_size=64, max_samples=300, device="cpu")


def _documents(ckpt: str) -> dict:
    """Every compared JSON document (the same code on every rank, or in one process)."""
    inputs = _inputs(ckpt)
    docs = {name: document("bounds", api.bounds(inputs, opts).to_json()) for name, opts in CONFIGS.items()}
    docs["verify"] = document("verify", api.verify(inputs, CONFIGS["exact"]).to_json())
    # a gate whose rules all use the measured limit: ε from the sharded loss pass, no spectrum
    docs["measured"] = document("verify", measured_limit(inputs).to_json())
    # one batch of all 300 samples, ε given: fewer batches than ranks, rank 1's shard is empty
    one_batch = load_inputs(ckpt, data="digits:train", batch_size=300, max_samples=300, device="cpu")
    docs["one-batch"] = document("bounds", api.bounds(one_batch, api.CurvatureOptions(epsilon=0.05)).to_json())
    return docs


def _timed(rank: int, ckpt: str) -> dict:
    """JSON of runs whose timed choices differ by rank, rank 1 reading 10⁵× rank 0's seconds:
    ``choice``, the default method with every product timed at 10 s on rank 1 and 0.1 ms on
    rank 0 (alone, rank 0 forms the exact spectrum, rank 1 leaves it for SLQ); ``budget``,
    adaptive SLQ under ``--time-budget 40`` with each clock reading 1 s later on rank 1 (alone,
    rank 1 stops within the first stage, rank 0 goes on), also with a --hessian-samples data
    check (timed on a part before the runs, a time the ranks read apart alike). Ranks whose choices part ways meet
    in different collectives (gloo aborted); every rank must take the slowest rank's reading."""
    import itertools
    import types

    from prunelimit import distributed
    from prunelimit.api import curvature

    step = 1e-4 if rank == 0 else 10.0

    def clock(device):
        ticks = itertools.count()
        return lambda: next(ticks) * step

    wall = itertools.count()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(curvature, "_clock", clock)
        patch.setattr(distributed, "time", types.SimpleNamespace(perf_counter=lambda: next(wall) * step / 10))
        return {"choice": document("bounds", api.bounds(_inputs(ckpt), api.CurvatureOptions(tolerance=0.2)).to_json()),
                "budget": document("bounds", api.bounds(_inputs(ckpt), api.CurvatureOptions(
                    method="slq", tolerance=0.001, time_budget=40)).to_json()),
                # the data check timed on a part before the runs, and the top-ups' stop, on the same clock
                "budget-parts": document("bounds", api.bounds(_inputs(ckpt), api.CurvatureOptions(
                    method="slq", tolerance=0.001, time_budget=40, hessian_samples=100)).to_json())}


def _worker(rank: int, port: int, ckpt: str, out: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(WORLD),
                      RANK=str(rank), LOCAL_RANK=str(rank))
    from prunelimit import distributed
    from prunelimit.cli import main

    assert distributed.init_from_env()
    try:
        result = {"shard": list(distributed.shard_range(5)), "docs": _documents(ckpt), "timed": _timed(rank, ckpt)}
        # rank 1's cache folder unusable (no store), rank 0's usable: a miss, then a hit on rank 0 only
        store = open_store(Path(out) / "cache", True) if rank == 0 else None
        result["one-store"] = [document("bounds", api.bounds(_inputs(ckpt), CONFIGS["exact"], store=store).to_json())
                               for _ in range(2)]
        # The CLI inside the live group: launched() silences stdout off rank 0, and only
        # rank 0 writes the plot.
        result["cli"] = _cli(main, Path(out) / f"ok{rank}", ["bounds", ckpt, *ARGS, "--json", "--plot",
                                                            str(Path(out) / "bounds.png")])
        # user code that prints and warns as every rank builds the model: rank 0 shows it, once
        result["chatty"] = _cli(main, Path(out) / f"chatty{rank}", ["bounds", ckpt, "--model", f"{out}/chatty.py:make",
                                                                   *ARGS, "--method", "paper", "--iterations", "8",
                                                                   "--runs", "1"])
        # a bad checkpoint every rank reads: one error line, from one rank, and one exit code
        result["bad"] = _cli(main, Path(out) / f"bad{rank}", ["bounds", str(Path(out) / "bad.pt"), *ARGS])
        # a rank failing after that (a peer's collective broken by the exit) takes its code, silently
        result["later"] = distributed.report_claim(5, "peer gone").__dict__
        # each node reads its own copy of the files: ranks that read different ones refuse alike
        result["differ"] = [_refusal(lambda: load_inputs(ckpt if rank == 0 else str(Path(out) / "other.pt"),
                                                         data="digits:train", batch_size=64, device="cpu")),
                            _refusal(lambda: load_inputs(ckpt, data="digits:train", batch_size=64, device="cpu",
                                                         max_samples=300 - 100 * rank))]
        # ranks given other curvature options (a --config file that differs between nodes) refuse alike
        result["options"] = _cli(main, Path(out) / f"options{rank}", ["bounds", ckpt, *ARGS, "--method", "slq",
                                                                     "--iterations", str(8 + rank), "--runs", "1"])
        (Path(out) / f"rank{rank}.json").write_text(json.dumps(result))
    finally:
        distributed.dist.destroy_process_group()


def _cli(main, stem: Path, argv: list[str]) -> dict:
    """``prunelimit argv`` run by ``main()`` in this rank: its exit code, stdout and stderr."""
    streams = {name: open(f"{stem}.{name}", "w") for name in ("stdout", "stderr")}  # noqa: SIM115
    sys.stdout, sys.stderr, sys.argv = streams["stdout"], streams["stderr"], ["prunelimit", *argv]
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        for stream in streams.values():
            stream.close()
    return {"exit": code, **{name: Path(f"{stem}.{name}").read_text() for name in streams}}


def _refusal(load) -> str | None:
    """The input error ``load()`` raises, ``None`` when it loads."""
    from prunelimit.errors import InputError

    try:
        load()
    except InputError as exc:
        return str(exc)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _close(a, b, path: str = "") -> None:
    """Equal JSON, floats to REL relative (1e-12 absolute near zero; the ± and its parts
    PLUS_MINUS_ABS absolute); ``timing`` and ``memory`` (each rank holds only its shard's
    graphs) ignored."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            if k not in ("timing", "memory"):
                _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        keys = set(path.replace("[", ".").split("."))
        floor = PLUS_MINUS_ABS if keys & PLUS_MINUS_KEYS else 1e-12
        assert math.isclose(a, b, rel_tol=REL, abs_tol=floor), f"{path}: {a} vs {b}"
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.models.spec import build_model

    tmp = tmp_path_factory.mktemp("dist")
    torch.manual_seed(0)
    ckpt = tmp / "mlp.pt"
    (tmp / "bad.pt").write_bytes(b"not a checkpoint")
    (tmp / "chatty.py").write_text("import warnings\nfrom prunelimit.models.spec import build_model\n\n\n"
                                   "def make():\n    print('building the model')\n"
                                   "    warnings.warn('a warning of the user code')\n"
                                   "    return build_model('mlp:64,12,10')\n")
    save_checkpoint(ckpt, "mlp:64,12,10", build_model("mlp:64,12,10").state_dict(), meta={"data": "digits:train"})
    save_checkpoint(tmp / "other.pt", "mlp:64,12,10", build_model("mlp:64,12,10").state_dict(),
                    meta={"data": "digits:train"})  # other weights
    with pytest.MonkeyPatch.context() as env:
        # one BLAS thread a rank: two ranks' threaded eigvalsh on shared cores thrash (4 s, not 0.1 s)
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setenv(name, "1")
        mp.spawn(_worker, args=(_free_port(), str(ckpt), str(tmp)), nprocs=WORLD, join=True)
    ranks = [json.loads((tmp / f"rank{r}.json").read_text()) for r in range(WORLD)]
    single = json.loads(json.dumps(_documents(str(ckpt))))  # through JSON like the ranks' documents
    return ranks, single, tmp


def test_shards_cover_every_batch_once_unevenly(runs):
    ranks, _, _ = runs
    assert [r["shard"] for r in ranks] == [[0, 1, 2], [3, 4]]


@pytest.mark.parametrize("name", [*CONFIGS, "verify", "measured", "one-batch"])
def test_two_ranks_match_one_process(runs, name):
    ranks, single, _ = runs
    for r in ranks:  # replicated state: every rank holds the same numbers, not only rank 0
        _close(r["docs"][name], single[name])


def test_ranks_take_one_choice_from_their_timings(runs):
    ranks, _, _ = runs
    timed = ranks[0]["timed"]
    assert timed["choice"]["spectrum"]["solver"] == "slq-h"  # rank 1's 10 s a product decided
    assert timed["budget"]["spectrum"]["stopped_by"] == timed["budget-parts"]["spectrum"]["stopped_by"] == "time-budget"
    assert timed["budget-parts"]["timing"]["stages"]["data_check"]["hvps"] > 3  # timed, then made
    _close(timed, ranks[1]["timed"])


def test_a_rank_without_a_cache_folder_meets_the_others(runs):
    """Only a rank with a store looked for an exact spectrum stored for the default method, a
    collective the rank without one (its cache folder unusable: a warning, run uncached) never
    joined: gloo aborted. Now both compute, on the miss and on rank 0's lone hit."""
    ranks, single, _ = runs
    for r in ranks:
        assert len(r["one-store"]) == 2
        for doc in r["one-store"]:
            _close(doc, single["exact"])


def test_only_rank_zero_prints_and_writes(runs):
    ranks, single, tmp = runs
    assert [r["cli"]["exit"] for r in ranks] == [0, 0]
    assert ranks[1]["cli"]["stdout"] == ""
    _close(json.loads(ranks[0]["cli"]["stdout"]), single["exact"])
    assert (tmp / "bounds.png").is_file()
    assert not list(tmp.glob(".bounds.png.*"))  # no temporary left by either rank


def test_user_code_output_and_warnings_show_once(runs):
    """A --model factory's print and its Python warning, met by every rank, showed on every rank
    (stdout goes to stderr while a command runs, and only prunelimit's own warnings were rank 0's):
    rank 0 alone shows them."""
    ranks, _, _ = runs
    assert [r["chatty"]["exit"] for r in ranks] == [0, 0]
    for said in ("building the model", "a warning of the user code"):
        shown = [r["chatty"]["stderr"].count(said) for r in ranks]
        assert shown[0] > 0 and shown[1] == 0, (said, shown)


def test_a_bad_input_is_reported_once_with_one_exit_code(runs):
    """Every rank reads the bad checkpoint: each printed the error, a line per rank."""
    ranks, _, _ = runs
    assert [r["bad"]["exit"] for r in ranks] == [3, 3]
    assert [r["bad"]["stdout"] for r in ranks] == ["", ""]
    lines = [line for r in ranks for line in r["bad"]["stderr"].splitlines()]
    assert len(lines) == 1 and lines[0].startswith("prunelimit: error: checkpoint "), lines
    # a rank ending after the first report (a collective its peer's exit broke, torchrun's
    # SIGTERM) prints nothing and exits with the first report's code
    assert [r["later"] for r in ranks] == [{"mine": False, "code": 3, "message": lines[0][len("prunelimit: error: "):]}] * 2


@pytest.mark.parametrize("torchrun", [True, False])
def test_a_rank_ends_with_its_code_at_once(torchrun):
    """Once one rank exits, torchrun sends the others SIGTERM: a rank still shutting Python
    down (its signal handlers reset) died of it (-15) instead of exiting with its code. Under
    torchrun (WORLD_SIZE set) a rank ends straight after its command, without the
    interpreter's teardown (an atexit hook shows it); a plain process tears down as usual."""
    env = {key: value for key, value in os.environ.items() if key not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    if torchrun:
        env.update(WORLD_SIZE="1", RANK="0", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    code = "import atexit; atexit.register(print, 'torn down'); from prunelimit.__main__ import run; run()"
    result = subprocess.run([sys.executable, "-c", code, "bounds", "model.pt", "--method", "bogus"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("prunelimit: error:") == 1
    assert ("torn down" in result.stdout) is not torchrun


def test_ranks_holding_different_inputs_refuse_alike(runs):
    """Nodes whose copies of the checkpoint or data differ summed different models' or data
    sets' shards into one number, or (other batch counts) waited on each other forever."""
    ranks, _, _ = runs
    model, data = ranks[0]["differ"]
    assert model.startswith("the model's weights differ between the torchrun ranks")
    assert data.startswith("the batches of data differ between the torchrun ranks")
    assert ranks[1]["differ"] == ranks[0]["differ"]


def test_ranks_given_other_options_refuse_alike(runs):
    """Ranks running other plans (8 Lanczos steps on rank 0, 9 on rank 1) met in all-reduces
    of other sizes: gloo aborted rank 0 and rank 1 reported an internal error (exit 5)."""
    ranks, _, _ = runs
    assert [r["options"]["exit"] for r in ranks] == [2, 2]
    lines = [line for r in ranks for line in r["options"]["stderr"].splitlines()]
    assert len(lines) == 1 and lines[0].startswith(
        "prunelimit: error: the curvature options differ between the torchrun ranks"), lines


def test_a_time_budget_counts_from_the_outermost_origin(monkeypatch) -> None:
    """The budget's clock reads from the command line's process start (``process_age``)
    over a command's or a library call's own start, and from its own making where none is set."""
    now = [1000.0]
    monkeypatch.setattr(distributed, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    with distributed.budget_counted_from(30.0):  # the process started 30 s before
        now[0] += 5.0  # loading
        with distributed.budget_counted_from():  # the command's own start: the process's holds
            assert distributed.agreed_clock()() == 35.0
    assert distributed.agreed_clock()() == 0.0


def test_the_process_age_counts_the_interpreters_start() -> None:
    """On Linux the age is read from /proc: a fresh interpreter that sleeps 0.3 s before
    asking is at least that old (the imports of a real command, torch's, count the same way)."""
    code = "import time; time.sleep(0.3); from prunelimit.distributed import process_age; print(process_age())"
    age = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert age >= 0.3 or not Path("/proc/self/stat").exists()
