"""Data-parallel analysis under ``torchrun``: one process group, batch-granular shards.

Launched by torchrun (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` set), :func:`launched`
joins the process group (gloo for CPU tensors, nccl for CUDA tensors). Every rank loads
the same fixed-order batches; the code that walks the data (``HessianOperator``,
``evaluate``) takes the contiguous run of whole batches :func:`shard_range` assigns to
its rank and all-reduces size-weighted sums. Sharding whole batches (not samples) keeps
every per-batch loss bit-identical to a single process, so the default ε (population
std of per-batch losses) is too. All-reduced results are identical on every rank, so
Lanczos, ε and the actual-limit search run *replicated*: the same seed and the same
reduced vectors give the same state everywhere, and nothing is broadcast. Only rank 0
prints to stdout or writes files, and a failing run's error line comes from one rank
(:func:`report_claim`; docs/scaling.md).

Without a process group every helper is the identity: world size 1, rank 0. So is it
within :func:`local`, where a library call runs: a DDP script's process group is its
own, and a call one rank makes alone must not wait in collectives for ranks that never
join them (docs/library.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Sequence, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor


T = TypeVar("T")


# False within ``local``: the process group, if any, is not this code's to use
_GROUP_USED: ContextVar[bool] = ContextVar("prunelimit_group_used", default=True)


def active() -> bool:
    """True inside an initialised process group, outside :func:`local`."""
    return _GROUP_USED.get() and dist.is_available() and dist.is_initialized()


@contextlib.contextmanager
def local() -> Iterator[None]:
    """Run as a plain process (world size 1, rank 0, no collectives) whatever process
    group is initialised: a library call computes over all the data it is given."""
    token = _GROUP_USED.set(False)
    try:
        yield
    finally:
        _GROUP_USED.reset(token)


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    """Rank 0 (or no process group): the one process that prints and writes files."""
    return rank() == 0


def backend() -> str:
    """gloo for CPU tensors, plus nccl for CUDA tensors when CUDA is present."""
    return "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"


def init_from_env() -> bool:
    """Join the process group described by torchrun's variables; False when not launched so.

    With CUDA, rank ``LOCAL_RANK`` takes GPU ``LOCAL_RANK`` as its current device, so
    ``--device auto``/``cuda`` lands each rank on its own GPU.
    """
    if "WORLD_SIZE" not in os.environ or active():
        return False
    check_launch_variables(os.environ)
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
    dist.init_process_group(backend=backend())
    return True


# what torchrun sets for each rank, and what joining its group reads
_LAUNCH_VARIABLES = ("WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT")


def launch_refused() -> "Exception | None":
    """The ``UsageError`` :func:`check_launch_variables` raises for this process's environment
    when ``WORLD_SIZE`` is set outside a joined group, else ``None``: found before the command
    line is read, it is raised once that is (``cli.main``), as any error after the options."""
    from prunelimit.errors import UsageError

    if "WORLD_SIZE" not in os.environ or active():
        return None
    try:
        check_launch_variables(os.environ)
    except UsageError as exc:
        return exc
    return None


def check_launch_variables(env: Mapping[str, str]) -> None:
    """A ``UsageError`` naming the variable when ``WORLD_SIZE`` is set but the others torchrun
    sets are missing or not numbers: torch's rendezvous raised a ValueError before any command
    could map it, a traceback and exit 1 (a failed gate's code)."""
    from prunelimit.errors import UsageError

    fix = "run prunelimit with torchrun, which sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT, or unset WORLD_SIZE"
    missing = [name for name in _LAUNCH_VARIABLES if not env.get(name, "").strip()]
    if missing:
        raise UsageError(f"WORLD_SIZE is set ({env['WORLD_SIZE'][:40]!r}) but {', '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} not, so no process group can be joined; {fix}")
    numbers = {name: env[name].strip() for name in ("WORLD_SIZE", "RANK", "MASTER_PORT", "LOCAL_RANK") if name in env}
    bad = next((name for name, text in numbers.items() if not text.isdecimal()), None)
    if bad is not None:
        raise UsageError(f"{bad}={env[bad][:40]!r} is not a whole number ≥ 0; {fix}")
    if not 0 <= int(numbers["RANK"]) < int(numbers["WORLD_SIZE"]):
        raise UsageError(f"RANK={numbers['RANK']} is not below WORLD_SIZE={numbers['WORLD_SIZE']}; {fix}")


_commands = 0  # commands run by :func:`launched` in this process


@contextlib.contextmanager
def launched() -> Iterator[None]:
    """Run a command under torchrun: joined group, stdout silenced off rank 0, group closed after.

    A no-op in a plain process. A failure's line reaches stderr from one rank (:func:`report_claim`).
    """
    global _commands
    joined = init_from_env()
    _commands += 1  # every rank runs the same commands: a new one makes a new report_claim key
    stdout = sys.stdout
    try:
        if not is_main():
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (closed below)
        yield
    finally:
        if sys.stdout is not stdout:
            sys.stdout.close()
            sys.stdout = stdout
        if joined:
            dist.destroy_process_group()


def shard_range(count: int) -> range:
    """This rank's contiguous run of ``count`` items: the first ``count % W`` ranks get one more.

    Concatenated in rank order the runs cover ``0..count-1`` exactly once; with fewer
    items than ranks the last ranks get empty runs, and contribute zeros to every sum.
    """
    size, r = world_size(), rank()
    base, extra = divmod(count, size)
    start = r * base + min(r, extra)
    return range(start, start + base + (1 if r < extra else 0))


def shard_batches(batches: Sequence[T]) -> list[T]:
    """This rank's contiguous shard of whole batches (all of them without a process group)."""
    items = list(batches)
    shard = shard_range(len(items))
    return items[shard.start : shard.stop]


def all_reduce_sum(tensor: Tensor) -> Tensor:
    """Sum ``tensor`` over all ranks, in place; returned for chaining. Identity without a group."""
    if active():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def any_rank(flag: bool) -> bool:
    """Whether ``flag`` holds on any rank (a plain process: ``flag``); every rank gets the
    same answer, so a choice one rank's own state would make (a batched product that failed
    there: a rank without data never fails) is taken by all, and their collectives match."""
    return agreed_max(float(flag)) > 0


def agreed_max(value: float) -> float:
    """The largest ``value`` over the ranks, the same on every rank (a plain process:
    ``value``). A time measured or the memory free differs between ranks; a choice made
    from it (exact spectrum or SLQ, where a timed stage ends) must not, or the ranks'
    collectives part ways and they wait on each other forever."""
    if not active():
        return value
    held = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(held, op=dist.ReduceOp.MAX)
    return float(held)


def agreed_min(value: float) -> float:
    """The smallest ``value`` over the ranks, the same on every rank (see ``agreed_max``)."""
    return -agreed_max(-value)


# Where a time budget starts counting (``budget_counted_from``); ``None``: where its clock is made.
_BUDGET_ORIGIN: ContextVar[float | None] = ContextVar("prunelimit_budget_origin", default=None)


@contextlib.contextmanager
def budget_counted_from(age: float = 0.0) -> Iterator[None]:
    """Time budgets within count from ``age`` seconds before now: a user who asks for
    ``--time-budget 10`` waits for the whole command, its start-up and loading included
    (docs/methods.md). The outermost origin holds: the command line's process start
    (``process_age``) over a command's own start, over a library call's."""
    if _BUDGET_ORIGIN.get() is not None:
        yield
        return
    token = _BUDGET_ORIGIN.set(time.perf_counter() - age)
    try:
        yield
    finally:
        _BUDGET_ORIGIN.reset(token)


def process_age() -> float:
    """Seconds since this process started (Linux's ``/proc``: starting Python and importing
    torch included, several seconds on a loaded machine), else 0."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat, open("/proc/uptime", encoding="ascii") as up:
            started = int(stat.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
            return max(0.0, float(up.read().split()[0]) - started)
    except (OSError, ValueError, IndexError):
        return 0.0


def agreed_clock() -> Callable[[], float]:
    """Seconds since the time budget's origin (``budget_counted_from``; none set: this
    call), read alike on every rank (the slowest rank's; see ``agreed_max``). Every reading
    is a collective: all ranks must read it at the same points, which they do while every
    choice they make is agreed."""
    origin = _BUDGET_ORIGIN.get()
    if origin is None:
        origin = time.perf_counter()
    return lambda: agreed_max(time.perf_counter() - origin)


def all_agree(token: str | None) -> bool:
    """Whether every rank holds the same ``token`` and none holds ``None`` (a plain process:
    whether it holds one). One collective, so every rank gets the same answer: a decision
    that some ranks take and others do not (a cache entry one node has and another lacks)
    would leave the ranks in different collectives, waiting forever."""
    if not active():
        return token is not None
    # 60 bits of the token's sha256: their min and max over the ranks agree only when all do
    value = int(hashlib.sha256(token.encode()).hexdigest()[:15], 16) if token is not None else -1
    both = torch.tensor([value, -value], dtype=torch.int64)
    dist.all_reduce(both, op=dist.ReduceOp.MIN)
    return int(both[0]) >= 0 and int(both[0]) == -int(both[1])


@dataclass(frozen=True)
class ReportClaim:
    """Who reports a run's end on stderr: ``mine`` when this rank prints its line, else the
    first rank's ``code`` and ``message``, which this rank takes as its own (silently)."""

    mine: bool
    code: int
    message: str


def report_claim(code: int, message: str) -> ReportClaim:
    """Claim the one error (or interrupt) line of a run ending in ``code``: the first rank to
    fail prints it and the others stay silent and exit with its code, so a bad input read by
    every rank (or Ctrl-C, which reaches them all) gives one line, and a rank that fails only
    because another left (a peer's collective broken, torchrun's SIGTERM) neither adds a line
    nor changes the code. Claimed in torchrun's key-value store, which needs no collective (the
    other ranks may be inside one); a plain process, or a store that cannot be reached (the
    rank hosting it has gone), prints its own."""
    if not active():
        return ReportClaim(True, code, message)
    mine = f"{rank()}:{code}:{message}"
    try:
        # torchrun's store outlives a command and a rank: a restart of the job, or another
        # command in the same group, claims anew
        key = f"prunelimit/report/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/{_commands}"
        held = dist.distributed_c10d._get_default_store().compare_set(key, "", mine).decode()
    except Exception:  # noqa: BLE001 (no store: every failing rank reports, as without one)
        return ReportClaim(True, code, message)
    _, first_code, first_message = held.split(":", 2)
    return ReportClaim(held == mine, int(first_code), first_message)


def gather_shards(local: Sequence[float] | np.ndarray, count: int) -> np.ndarray:
    """The ``count`` per-batch values of all ranks in global order, from this rank's shard.

    Each rank writes its values into its slice of a zero vector and the vectors are
    summed: adding exact zeros, so every value arrives unchanged (float64).
    """
    values = np.asarray(local, dtype=np.float64)
    if not active():
        return values.copy()
    shard = shard_range(count)
    full = torch.zeros(count, dtype=torch.float64)
    full[shard.start : shard.stop] = torch.from_numpy(values)
    return all_reduce_sum(full).numpy()
