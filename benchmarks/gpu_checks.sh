#!/usr/bin/env bash
# The GPU checks of issue 6 in one prepared run, for a session that is lent a GPU machine
# (docs/benchmarks.md §4). On that machine, from the repository root:
#
#     bash benchmarks/gpu_checks.sh          # the device tool's run, timeout_s=600
#
# It needs no install (the machine's python3 has torch, typer, rich, scipy, pyyaml,
# matplotlib, safetensors) and writes everything under $OUT:
#   1. bounds on the bundled example on the CPU and on CUDA, exact and paper SLQ with the
#      kept-graph and the recomputing (lockstep) engine: the same numbers on both devices;
#   2. the ResNet-18 benchmark with few Lanczos steps, projected to 128 (a full 128-step
#      run may not fit one 10-minute call), TF32 off and on.
# DEVICES=cpu runs part 1 on the CPU alone (how it is checked without a GPU).
set -uo pipefail
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT="${OUT:-/tmp/gpu-checks}"
DEVICES="${DEVICES:-cpu cuda}"
STEPS="${STEPS:-8}"
mkdir -p "$OUT"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())" \
    | tee "$OUT/env.txt"

for device in $DEVICES; do
    for variant in "exact:" "paper:--method paper --runs 4" "revrev:--method paper --runs 4 --hvp revrev"; do
        name="${variant%%:*}"
        # shellcheck disable=SC2086
        python3 -m prunelimit bounds examples/digits-mlp.pt ${variant#*:} --device "$device" --json \
            > "$OUT/bounds-$name-$device.json" 2> "$OUT/bounds-$name-$device.err" || echo "FAILED: $name on $device"
    done
done
python3 - "$OUT" $DEVICES <<'PY' | tee "$OUT/compare.txt"
import json, pathlib, sys
out, devices = pathlib.Path(sys.argv[1]), sys.argv[2:]
for name in ("exact", "paper", "revrev"):
    docs = {}
    for d in devices:
        path = out / f"bounds-{name}-{d}.json"
        if path.stat().st_size:
            docs[d] = json.loads(path.read_text())
    for d, doc in docs.items():
        p, m, t = doc["prediction"], doc["memory"], doc["timing"]
        print(f"{name:7s} {d:5s} rho* {p['ratio']:.6f} continuous {p['continuous_ratio']:.6f} "
              f"lambda_max {doc['spectrum']['lambda_max']:.6g} {t['hvps']} HVPs in {t['seconds']:.2f} s "
              f"engine {m['hvp_engine']} basis {m['basis_kind']} peak device {m['peak_device_mb']}")
    if len(docs) == 2:
        a, b = (docs[d]["prediction"]["continuous_ratio"] for d in devices)
        print(f"{name:7s} |continuous rho* cpu - cuda| = {abs(a - b):.2e}")
PY

if [[ " $DEVICES " == *" cuda "* ]]; then
    timeout 240 python3 benchmarks/bench_gpu_resnet18.py --device cuda --steps "$STEPS" 2>&1 | tee "$OUT/resnet18.txt"
    timeout 180 python3 benchmarks/bench_gpu_resnet18.py --device cuda --steps "$STEPS" --tf32 2>&1 | tee "$OUT/resnet18-tf32.txt"
fi
