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
#      run may not fit one 10-minute call), TF32 off and on;
#   3. time to answer: `prunelimit bounds` with its defaults (adaptive SLQ, curvature on a
#      class-balanced 8,192-sample subset) on a CIFAR-sized ResNet-18 over 50,000 synthetic
#      samples, within a 150 s time budget: its JSON says the HVPs, ρ* ± and what stopped it.
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
    timeout 200 python3 benchmarks/bench_gpu_resnet18.py --device cuda --steps "$STEPS" 2>&1 | tee "$OUT/resnet18.txt"
    timeout 120 python3 benchmarks/bench_gpu_resnet18.py --device cuda --steps "$STEPS" --tf32 2>&1 | tee "$OUT/resnet18-tf32.txt"
    python3 - "$OUT/resnet18-cifar10.pt" <<'PY'
import sys, torch
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.spec import build_model
torch.manual_seed(0)
save_checkpoint(sys.argv[1], "resnet18-cifar:num_classes=10", build_model("resnet18-cifar:num_classes=10").state_dict())
PY
    /usr/bin/time -v timeout 220 python3 -m prunelimit bounds "$OUT/resnet18-cifar10.pt" \
        --data synthetic:samples=50000,shape=3x32x32 --device cuda --time-budget 150 --no-cache --json \
        > "$OUT/time-to-answer-resnet18.json" 2> "$OUT/time-to-answer-resnet18.err" || echo "FAILED: time to answer"
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); p=d['prediction']; s=d['spectrum']; print('time to answer:', d['timing'], 'rho*', p['ratio'], '+-', p['uncertainty']['plus_minus'], s['choice'], s['stopped_by'], s['runs'], 'x', s['iterations'])" \
        "$OUT/time-to-answer-resnet18.json" | tee "$OUT/time-to-answer.txt"
fi
