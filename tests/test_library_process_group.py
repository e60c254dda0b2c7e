"""A library call inside a torch.distributed process group (a DDP script) that only one
rank makes: it must compute alone over the data it is given, not wait in collectives for
ranks that never join them (the command line under torchrun shards; tests/test_distributed.py)."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, port: int, results, done) -> None:
    import torch.distributed as dist

    import prunelimit

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        if rank == 0:  # as `if rank == 0: prunelimit.bounds(...)` in a DDP training script
            result = prunelimit.bounds(*_problem(), batch_size=16)
            results.put((result.ratio, result.epsilon))
            done.set()
        else:
            done.wait(120)
    finally:
        dist.destroy_process_group()


def _problem():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    return model, (torch.randn(64, 6), torch.randint(0, 3, (64,)))


def test_a_call_from_one_rank_computes_alone_and_returns():
    import prunelimit

    ctx = mp.get_context("spawn")
    results, done, port = ctx.Queue(), ctx.Event(), _free_port()
    procs = [ctx.Process(target=_rank, args=(r, port, results, done)) for r in range(2)]
    for p in procs:
        p.start()
    try:
        ratio, epsilon = results.get(timeout=60)
    except Exception:  # queue.Empty: rank 0 waits on a collective rank 1 never joins
        pytest.fail("prunelimit.bounds on rank 0 alone did not return within 60 s (waiting on the other rank)")
    finally:
        done.set()
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    alone = prunelimit.bounds(*_problem(), batch_size=16)  # a plain process: all the data, no group
    assert (ratio, epsilon) == (alone.ratio, alone.epsilon)
