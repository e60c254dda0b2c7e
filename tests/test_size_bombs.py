"""Size bombs (issue 16): tiny inputs that claim huge memory or time are refused, fast.

A few-KB file or a short option can ask for terabytes: a zero-stride tensor, a zip entry
that inflates 1000×, a model or data spec recorded inside a checkpoint, a YAML alias bomb,
20,000 levels of nesting, ``--sweep 2000000000``, a million-row CSV. Every case runs the
real CLI in one child process under an address-space limit (``RLIMIT_AS``) and a timeout,
so an allocation that slipped through would fail the case (or the child) instead of
swapping the machine. Each case asserts the exit code, one ``prunelimit: error:`` line
naming the reason, no traceback, its own time, and that no output file was written.
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from prunelimit.errors import InputError, UsageError
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.limits import MAX_CSV_BYTES, check_counts, load_yaml, overlapping
from prunelimit.models.spec import build_model
from tests.conftest import SPEC, claiming_storage, junit_error_report

ROOT = Path(__file__).resolve().parents[1]
ADDRESS_SPACE = 3 << 30  # torch's import maps ~1.5 GB; a materialised bomb needs far more
PEAK_RSS = 1536 << 20  # what the whole child may reach: the imports plus small models
CASE_SECONDS = 15.0  # each refusal comes before any real work (milliseconds idle; seconds on a loaded 2-core runner)
CASE_ALARM = 20  # seconds after which the child interrupts a runaway case
CHILD_TIMEOUT = 300  # all cases together, one interpreter start included, on a loaded machine
GB2 = 2**31  # what the zip bombs inflate to: under 4 GiB keeps the archives free of zip64


# --------------------------------------------------------------------------- hostile files
def _deflated_zeros(prefix: bytes, nbytes: int) -> bytes:
    """A raw deflate stream of ``prefix`` then ``nbytes`` zeros, built in O(nbytes / 1000).

    Each 1 MiB piece is compressed once and repeated: a full flush ends it byte-aligned and
    without back-references, so the pieces concatenate into one valid stream.
    """

    def piece(data: bytes) -> bytes:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)

    mib = 1 << 20
    return piece(prefix) + piece(bytes(mib)) * (nbytes // mib) + b"\x03\x00"  # \x03\x00: empty final block


def _write_zip(path: Path, entries: dict[str, tuple[bytes, int]]) -> None:
    """A zip of ``name -> (stored bytes, inflated size)``; entries whose sizes differ are
    deflated streams (their CRC is left 0: a hostile file need not be consistent)."""
    local, central = io.BytesIO(), io.BytesIO()
    for name, (data, size) in entries.items():
        method, crc = (0, zlib.crc32(data)) if len(data) == size else (8, 0)
        offset = local.tell()
        fields = (20, 0, method, 0, 0x21, crc, len(data), size, len(name))
        local.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields, 0) + name.encode() + data)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *fields, 0, 0, 0, 0, 0, offset)
                      + name.encode())
    directory = central.getvalue()
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), local.tell(), 0)
    path.write_bytes(local.getvalue() + directory + end)


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _torch_zip_bomb(path: Path) -> None:
    """A ``tensors:`` .pt whose ``x`` storage entry inflates from ~2 MB to 2 GB.

    The pickle of a 4-element tensor is patched to declare 2^29 elements (numel and shape),
    so torch itself would inflate and accept the entry.
    """
    buf = io.BytesIO()
    torch.save({"x": torch.zeros(4), "y": torch.zeros(4, dtype=torch.long)}, buf)
    original = zipfile.ZipFile(buf)
    numel = struct.pack("<i", GB2 // 4)
    entries = {}
    for info in original.infolist():
        data = original.read(info)
        if info.filename.endswith("data.pkl"):
            x_part, y_part = data.split(b"FloatStorage", 1)
            y_part = y_part.replace(b"K\x04t", b"J" + numel + b"t", 1).replace(b"QK\x00K\x04\x85", b"QK\x00J" + numel + b"\x85", 1)
            data = x_part + b"FloatStorage" + y_part
        entries[info.filename] = (data, len(data))
    x_entry = next(n for n in entries if n.endswith("data/0"))
    entries[x_entry] = (_deflated_zeros(b"", GB2), GB2)
    _write_zip(path, entries)


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> SimpleNamespace:
    d = tmp_path_factory.mktemp("bombs")
    b = SimpleNamespace(dir=d)
    torch.manual_seed(0)
    model = build_model(SPEC)
    state = model.state_dict()
    b.good = d / "good.pt"
    save_checkpoint(b.good, SPEC, state, meta={"data": "digits:train"})
    b.sd = d / "sd.pt"
    torch.save(state, b.sd)
    # Zero-stride and overlapping tensors: a few KB on disk, terabytes once materialised.
    b.expand_data = d / "expand.pt"
    torch.save({"x": torch.zeros(1).expand(2**40 // 64, 64), "y": torch.zeros(1, dtype=torch.long).expand(2**40 // 64)},
               b.expand_data)
    b.overlap_data = d / "overlap.pt"
    base = torch.zeros(2 * 10**5)
    torch.save({"x": base.as_strided((10**5, 10**5), (1, 1)), "y": torch.zeros(10**5, dtype=torch.long)},
               b.overlap_data)
    b.expand_ckpt = d / "expand-ckpt.pt"
    torch.save({**state, "0.weight": torch.zeros(1).expand(10**6, 10**6)}, b.expand_ckpt)
    b.expand_meta = d / "expand-meta.pt"
    save_checkpoint(b.expand_meta, SPEC, state, meta={"data": "digits:train",
                                                      "train_state": {"buf": torch.zeros(1).expand(10**12)}})
    b.deep_meta = d / "deep-meta.pt"
    nested: dict = {}
    for _ in range(300):
        nested = {"a": nested}
    save_checkpoint(b.deep_meta, SPEC, state, meta={"data": "digits:train", "deep": nested})
    b.lying_safetensors = d / "lie.safetensors"
    header = json.dumps({"0.weight": {"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 4]}}).encode()
    b.lying_safetensors.write_bytes(struct.pack("<Q", len(header)) + header + bytes(4))
    # Zip bombs: an .npz and a torch zip whose entries inflate ~1000× to 2 GB.
    b.npz_bomb = d / "bomb.npz"
    x_header, y_npy = _npy_header((GB2 // 256, 64)), _npy(np.zeros(4, np.int64))
    _write_zip(b.npz_bomb, {"x.npy": (_deflated_zeros(x_header, GB2), len(x_header) + GB2),
                            "y.npy": (y_npy, len(y_npy))})
    b.pt_bomb = d / "bomb.pt"
    _torch_zip_bomb(b.pt_bomb)
    b.ckpt_bomb = d / "bomb-ckpt.pt"
    _torch_zip_bomb(b.ckpt_bomb)
    # A few hundred bytes whose pickle declares a storage of 2^40 or 2^30 floats (torch allocates it first).
    b.legacy_claim = claiming_storage(d / "legacy-claim.pt", 2**40, legacy=True)
    b.legacy_claim_4gb = claiming_storage(d / "legacy-claim-4gb.pt", 2**30, legacy=True, key="0.weight")
    b.zip_claim = claiming_storage(d / "zip-claim.pt", 2**40, legacy=False)
    # An .npy header declaring 25 TB in a 200-byte entry (numpy allocates the shape first).
    b.npy_lie = d / "lie.npz"
    with zipfile.ZipFile(b.npy_lie, "w") as z:
        z.writestr("x.npy", _npy_header((10**11, 64)) + bytes(64))
        z.writestr("y.npy", _npy(np.zeros(4, np.int64)))
    # Specs recorded inside small checkpoints.
    b.big_model = d / "big-model.pt"
    save_checkpoint(b.big_model, "mlp:30000,30000,10", state, meta={"data": "digits:train"})
    b.wide_zoo = d / "wide-zoo.pt"
    save_checkpoint(b.wide_zoo, "resnet18-cifar:width=4096", state, meta={"data": "digits:train"})
    b.long_spec = d / "long-spec.pt"
    save_checkpoint(b.long_spec, "mlp:" + ",".join(["64"] * 5000) + ",10", state, meta={"data": "digits:train"})
    b.big_data = d / "big-data.pt"
    save_checkpoint(b.big_data, SPEC, state, meta={"data": "synthetic:samples=4000000,features=64"})
    b.big_eval = d / "big-eval.pt"
    save_checkpoint(b.big_eval, SPEC, state, meta={"data": "digits:train",
                                                   "eval_data": "synthetic:samples=4000000,features=64"})
    b.big_images = d / "big-images.pt"
    save_checkpoint(b.big_images, SPEC, state, meta={"data": f"imagefolder:{d}:size=100000"})
    # YAML: billion laughs (10^9 values from 90 aliases), 20,000 levels, and both in gate rules.
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8))
    for name, text in {
        "laughs": laughs + "include: *i\n",
        "deep": "iterations: " + "[" * 20_000 + "]" * 20_000 + "\n",
        "deep_map": "".join(" " * i + f"k{i}:\n" for i in range(400)) + " " * 400 + "v: 1\n",
        "rules_bomb": laughs + "gate:\n  rules: *i\n",
        "sweep": "verify:\n  sweep: 2000000000\n",
    }.items():
        setattr(b, f"cfg_{name}", d / f"{name}.yaml")
        getattr(b, f"cfg_{name}").write_text(text)
    b.cfg_huge = d / "huge.yaml"
    b.cfg_huge.write_text("# padding\n" * 200_000)
    # JSON reports: 100,000 levels deep, and larger than any report.
    b.deep_json = d / "deep.json"
    b.deep_json.write_text("[" * 100_000 + "]" * 100_000)
    b.huge_json = d / "huge.json"
    with open(b.huge_json, "wb") as f:
        f.truncate(64 << 20)  # sparse: the size is what matters
    # Law CSVs: a million rows, and a file over the byte cap (sparse).
    b.csv_rows = d / "rows.csv"
    b.csv_rows.write_text("density,gamma\n" + "0.5,0.1\n" * 1_000_000)
    b.err_rows = d / "err-rows.csv"
    b.err_rows.write_text("density,error\n" + "0.5,0.1\n" * 1_000_000)
    b.csv_huge = d / "huge.csv"
    with open(b.csv_huge, "wb") as f:
        f.write(b"density,gamma\n")
        f.truncate(2 * MAX_CSV_BYTES)
    return b


# --------------------------------------------------------------------------- the cases
G = "{good}"
CASES: list[tuple[str, tuple[str, ...], int, str]] = [
    # Tensors whose declared size dwarfs the file.
    ("data-zero-stride", ("info", G, "--data", "tensors:{expand_data}"), 3, "expanded view"),
    ("data-overlapping-strides", ("bounds", G, "--data", "tensors:{overlap_data}", "--plot", "{out}/b.png"), 3,
     "expanded view"),
    ("checkpoint-zero-stride", ("bounds", "{expand_ckpt}", "--model", SPEC, "--data", "digits"), 3, "expanded view"),
    ("checkpoint-meta-zero-stride", ("prune", "{expand_meta}", "--ratio", "0.5", "-o", "{out}/p.pt"), 3,
     "expanded view"),
    ("checkpoint-deep-meta", ("info", "{deep_meta}"), 3, "levels deep"),
    ("safetensors-lying-header", ("info", "{lying_safetensors}", "--model", SPEC), 3, "safetensors"),
    # Zip entries that inflate far beyond their stored size, or .npy headers that lie.
    ("npz-zip-bomb", ("info", G, "--data", "tensors:{npz_bomb}"), 3, "zip bomb"),
    ("pt-data-zip-bomb", ("bounds", G, "--data", "tensors:{pt_bomb}"), 3, "zip bomb"),
    ("checkpoint-zip-bomb", ("law", "nplh", "{ckpt_bomb}", "--model", SPEC, "-o", "{out}/n.csv"), 3, "zip bomb"),
    ("npy-header-lie", ("verify", G, "--data", "tensors:{npy_lie}", "--plot", "{out}/v.png"), 3, "declares shape"),
    # Pickles that declare storages larger than the file (torch allocates the declared size first).
    ("checkpoint-legacy-storage-claim", ("info", "{legacy_claim}", "--model", SPEC), 3,
     "its tensor storages declare 4.4 TB but the whole file is"),
    ("checkpoint-legacy-claim-4GB", ("prune", "{legacy_claim_4gb}", "--model", SPEC, "--ratio", "0.5", "-o",
                                     "{out}/p.pt"), 3, "its tensor storages declare 4.3 GB but the whole file is"),
    ("checkpoint-zip-storage-claim", ("bounds", "{zip_claim}", "--model", SPEC, "--data", "digits"), 3,
     "tensor storage '0' declares 4.4 TB but the file holds 16 bytes for it"),
    ("data-legacy-storage-claim", ("bounds", G, "--data", "tensors:{legacy_claim}"), 3,
     "its tensor storages declare 4.4 TB but the whole file is"),
    ("data-zip-storage-claim", ("info", G, "--data", "tensors:{zip_claim}"), 3,
     "tensor storage '0' declares 4.4 TB"),
    # Specs recorded in a file: shapes are compared on the meta device before building.
    ("recorded-model-3.6GB", ("info", "{big_model}"), 3, "does not fit"),
    ("recorded-zoo-wide", ("bounds", "{wide_zoo}"), 3, "does not fit"),
    ("typed-model-3.6GB", ("info", "{sd}", "--model", "mlp:30000,30000,10"), 3, "does not fit"),
    ("recorded-spec-long", ("info", "{long_spec}"), 3, "pass --model"),
    ("typed-model-deep", ("info", "{sd}", "--model", "mlp:" + ",".join(["2"] * 2000)), 2, "layers"),
    ("recorded-data-millions", ("bounds", "{big_data}"), 3, "pass --data"),
    ("recorded-eval-data-millions", ("prune", "{big_eval}", "--ratio", "0.5", "-o", "{out}/p.pt"), 3, "pass --data"),
    ("recorded-imagefolder-size", ("bounds", "{big_images}"), 3, "size must be an integer"),
    ("typed-data-over-cap", ("info", G, "--data", "synthetic:samples=100000000,features=64"), 2, "over the cap"),
    ("typed-data-deep-value", ("info", G, "--data", "synthetic:samples=" + "[" * 5000), 2, "samples: got '[[["),
    # YAML the tool reads: configuration and gate policy.
    ("yaml-billion-laughs", ("bounds", G, "--config", "{cfg_laughs}"), 2, "aliases"),
    ("yaml-deep-flow", ("bounds", G, "--config", "{cfg_deep}"), 2, "levels deep"),
    ("yaml-deep-block", ("info", G, "--config", "{cfg_deep_map}"), 2, "levels deep"),
    ("yaml-gate-rules-bomb", ("gate", G, "--config", "{cfg_rules_bomb}", "--junit", "{out}/g.xml"), 2, "aliases"),
    ("yaml-huge-file", ("info", G, "--config", "{cfg_huge}"), 2, "over the"),
    ("config-sweep", ("verify", G, "--config", "{cfg_sweep}"), 2, "sweep.yaml must be at most"),
    # JSON reports.
    ("baseline-deep-json", ("gate", G, "--baseline", "{deep_json}", "--max-drop", "0.1", "--no-cache"), 3,
     "not valid JSON"),
    ("baseline-huge-json", ("gate", G, "--baseline", "{huge_json}", "--max-drop", "0.1", "--no-cache"), 3, "over the"),
    ("prune-from-deep-json", ("prune", G, "--from", "{deep_json}", "-o", "{out}/p.pt"), 3, "not valid JSON"),
    # Law CSVs.
    ("nplh-fit-million-rows", ("law", "nplh-fit", "{csv_rows}", "--plot", "{out}/f.png"), 3, "rows"),
    ("error-fit-million-rows", ("law", "error-fit", "{err_rows}"), 3, "rows"),
    ("nplh-fit-huge-file", ("law", "nplh-fit", "{csv_huge}"), 3, "over the"),
    # Count options that size an allocation or a loop.
    ("verify-sweep", ("verify", G, "--sweep", "2000000000", "--plot", "{out}/v.png"), 2, "--sweep must be at most"),
    ("bounds-iterations", ("bounds", G, "--iterations", "1000000000"), 2, "--iterations must be at most"),
    ("spectrum-runs", ("spectrum", G, "--runs", "2000000000"), 2, "--runs must be at most"),
    ("imp-levels", ("imp", SPEC, "--data", "digits", "--levels", "1000000000", "-o", "{out}/imp"), 2,
     "--levels must be at most"),
    ("train-epochs", ("train", "--model", SPEC, "--data", "digits", "--epochs", "2000000000", "-o", "{out}/t.pt"), 2,
     "--epochs must be at most"),
    ("hyperflux-epochs", ("hyperflux", "--model", SPEC, "--data", "digits", "--target-density", "0.5",
                          "--pruning-epochs", "2000000000", "-o", "{out}/h.pt"), 2, "--pruning-epochs must be at most"),
    ("nplh-finetune-steps", ("law", "nplh", G, "--mode", "iterative", "--finetune-steps", "10000000000000"), 2,
     "--finetune-steps must be at most"),
    ("batch-size", ("bounds", G, "--batch-size", "100000000000"), 2, "--batch-size must be at most"),
    ("max-samples", ("info", G, "--data", "digits", "--max-samples", "100000000000000"), 2,
     "--max-samples must be at most"),
    ("prune-finetune-epochs", ("prune", G, "--ratio", "0.5", "--finetune-epochs", "2000000000", "-o", "{out}/p.pt"),
     2, "--finetune-epochs must be at most"),
]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def child_main() -> None:
    """Run the cases read from stdin in this process (imports paid once), print JSON results."""
    from typer.testing import CliRunner

    from prunelimit.cli import app
    from prunelimit.device import peak_host_mb

    def runaway(signum, frame):
        raise TimeoutError("the case ran on past its alarm")

    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, runaway)
    runner, results = CliRunner(), {}
    for case in json.loads(sys.stdin.read()):
        start = time.perf_counter()
        signal.alarm(CASE_ALARM)  # a case that runs away is recorded, and the others still run
        result = runner.invoke(app, case["args"])
        signal.alarm(0)
        exception = result.exception if not isinstance(result.exception, SystemExit) else None
        results[case["name"]] = {
            "code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr,
            "exception": repr(exception) if exception else None, "seconds": time.perf_counter() - start,
            "rss": peak_host_mb() * 2**20,  # its own: ru_maxrss held the worker's peak it was forked from
        }
    print(json.dumps(results))


@pytest.fixture(scope="module")
def outcomes(bombs) -> dict:
    """Every case once, in one memory-limited child; each case writes under its own folder."""
    payload = []
    for name, args, _, _ in CASES:
        out = bombs.dir / "out" / name
        out.mkdir(parents=True)
        payload.append({"name": name, "args": [a.format(out=out, **vars(bombs)) for a in args]})
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", "from tests.test_size_bombs import child_main; child_main()"],
                          input=json.dumps(payload), capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=CHILD_TIMEOUT, preexec_fn=_limit_memory)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name,args,code,message", CASES, ids=[c[0] for c in CASES])
def test_size_bomb_is_refused_fast(outcomes, bombs, name, args, code, message):
    got = outcomes[name]
    lines = got["stderr"].strip().splitlines()
    assert got["exception"] is None, got["exception"]
    assert got["code"] == code, got["stderr"]
    assert len(lines) == 1 and lines[0].startswith("prunelimit: error: "), got["stderr"]
    assert message in lines[0], lines[0]
    assert "Traceback" not in got["stderr"] + got["stdout"]
    assert got["stdout"] == ""
    assert got["seconds"] < CASE_SECONDS, f"{name} took {got['seconds']:.1f} s"
    assert got["rss"] < PEAK_RSS, f"peak memory {got['rss'] / 2**20:.0f} MiB after {name}"
    left = [p for p in (bombs.dir / "out" / name).iterdir() if not junit_error_report(p, got["stderr"])]
    assert left == [], "an output file was written"  # the gate's JUnit report of the error is written on purpose


def test_deep_yaml_in_a_real_process_is_one_line_exit_2(bombs):
    """What a shell sees: 20,000-deep YAML was a RecursionError traceback with exit 1 (the
    code of a failed gate); now it is exit 2 and one line, under the same memory limit."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "prunelimit", "gate", str(bombs.good), "--config", str(bombs.cfg_deep)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, preexec_fn=_limit_memory)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"prunelimit: error: config file {bombs.cfg_deep} nests over 100 levels "
                                                "deep; flatten it"]
    assert proc.stdout == ""


# --------------------------------------------------------------------------- the checks themselves
@pytest.mark.parametrize("shape,stride,expected", [
    ((3, 4), (4, 1), False),  # contiguous
    ((3, 4), (1, 3), False),  # transposed
    ((3, 4), (0, 1), True),  # expanded rows
    ((5, 5), (1, 1), True),  # diagonal windows
    ((2, 3), (2, 1), True),  # rows of 3 that advance by 2: offsets 0 1 2 / 2 3 4
    ((1, 7), (0, 1), False),  # a size-1 dimension's stride is never used
    ((0, 7), (0, 0), False),  # no elements
])
def test_overlapping_layouts(shape, stride, expected):
    assert overlapping(shape, stride) is expected


def test_small_expanded_tensors_and_compressed_data_still_load(tmp_path):
    """Legitimate files stay readable: a small expanded buffer, a compressed .npz."""
    from prunelimit.data.spec import load_dataset
    from prunelimit.io.checkpoint import read_checkpoint

    path = tmp_path / "small.pt"
    torch.save({"w": torch.ones(1).expand(100, 100)}, path)
    assert read_checkpoint(path).state_dict["w"].shape == (100, 100)
    data = tmp_path / "data.npz"
    np.savez_compressed(data, x=np.zeros((4000, 64), np.float32), y=np.zeros(4000, np.int64))
    assert len(load_dataset(f"tensors:{data}")) == 4000


def test_yaml_aliases_within_the_cap_are_fine():
    assert load_yaml("a: &x [1, 2]\nb: *x\nc: {k: *x}\n", "cfg") == {"a": [1, 2], "b": [1, 2], "c": {"k": [1, 2]}}
    with pytest.raises(UsageError, match="aliases"):
        load_yaml("a: &a [" + ", ".join(["x"] * 1000) + "]\nb: [" + ", ".join(["*a"] * 200) + "]\n", "cfg")


def test_counts_are_checked_both_ways():
    check_counts({"sweep": 0, "iterations": None, "seed": 10**30, "json": True})
    with pytest.raises(UsageError, match="^runs must be at least 1, got 0") as caught:
        check_counts({"runs": 0})
    assert caught.value.named("--runs") == "--runs must be at least 1, got 0"  # the CLI's flag
    with pytest.raises(UsageError, match="levels must be at most 200"):
        check_counts({"levels": 201})
    with pytest.raises(UsageError, match="sweep must be an integer, got '3'"):
        check_counts({"sweep": "3"})


def test_meta_build_refuses_before_allocating():
    """The shape check runs on the meta device: a 3.6 GB spec costs nothing to compare."""
    from prunelimit.models.load import check_fits

    start = time.perf_counter()
    meta = build_model("mlp:30000,30000,10", device="meta")
    with pytest.raises(InputError, match="does not fit"):
        check_fits(meta.state_dict(), build_model(SPEC).state_dict(), "x.pt")
    assert time.perf_counter() - start < CASE_SECONDS
