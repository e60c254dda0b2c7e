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
#
# Every command has a timeout drawn from one clock, TOTAL seconds (default 540) for the
# whole script, each command's share capped and the later parts' caps kept back, so the
# script ends inside the device tool's 600 s call with margin whatever hangs; a part that
# fails or is cut short says so and the next still runs. Caps: part 1 what the later parts
# leave (100 s; it takes ~20 s on 2 CPU cores), part 2 130 + 80 s (the Lanczos steps stop
# 45 s before, leaving start-up, data and the operator's build their share), the
# checkpoint 30 s, part 3 200 s (its 150 s budget, start-up and the checks after).
set -uo pipefail
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT="${OUT:-/tmp/gpu-checks}"
DEVICES="${DEVICES:-cpu cuda}"
STEPS="${STEPS:-8}"
TOTAL="${TOTAL:-540}"
mkdir -p "$OUT"

# seconds for a command: at most $1, leaving $2 for the parts after it (at least 1)
share() { local left=$((TOTAL - SECONDS - $2)); (( left > $1 )) && left=$1; (( left < 1 )) && left=1; echo "$left"; }
# GNU time's resource report where the machine has it; the command alone where not
if [[ -x /usr/bin/time ]]; then timed=(/usr/bin/time -v -o "$OUT/time-to-answer-resnet18.time"); else timed=(); fi
cuda=0; [[ " $DEVICES " == *" cuda "* ]] && cuda=1
later=$((cuda * 440))  # parts 2 and 3's caps, kept back from part 1

timeout "$(share 30 "$later")" python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())" \
    2>&1 | tee "$OUT/env.txt"

for device in $DEVICES; do
    for variant in "exact:" "paper:--method paper --runs 4" "revrev:--method paper --runs 4 --hvp revrev"; do
        name="${variant%%:*}"
        # shellcheck disable=SC2086
        timeout "$(share 40 "$later")" python3 -m prunelimit bounds examples/digits-mlp.pt ${variant#*:} --device "$device" --no-cache --json \
            > "$OUT/bounds-$name-$device.json" 2> "$OUT/bounds-$name-$device.err" || echo "FAILED: $name on $device (exit $?)"
    done
done
# shellcheck disable=SC2086
python3 benchmarks/gpu_checks_report.py compare "$OUT" $DEVICES 2>&1 | tee "$OUT/compare.txt"

if (( cuda )); then
    budget=$(share 130 310)
    timeout "$budget" python3 benchmarks/bench_gpu_resnet18.py --device cuda --steps "$STEPS" --time-limit $((budget - 45)) \
        2>&1 | tee "$OUT/resnet18.txt" || echo "FAILED: resnet18 (exit $?)"
    budget=$(share 80 230)
    timeout "$budget" python3 benchmarks/bench_gpu_resnet18.py --device cuda --steps "$STEPS" --tf32 --time-limit $((budget - 45)) \
        2>&1 | tee "$OUT/resnet18-tf32.txt" || echo "FAILED: resnet18 TF32 (exit $?)"
    timeout "$(share 30 200)" python3 - "$OUT/resnet18-cifar10.pt" <<'PY' 2>&1 | tee "$OUT/checkpoint.txt"
import sys, torch
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.spec import build_model
torch.manual_seed(0)
save_checkpoint(sys.argv[1], "resnet18-cifar:num_classes=10", build_model("resnet18-cifar:num_classes=10").state_dict())
PY
    [[ -s "$OUT/resnet18-cifar10.pt" ]] || echo "FAILED: the ResNet-18 checkpoint"
    ${timed[@]+"${timed[@]}"} timeout "$(share 200 0)" python3 -m prunelimit bounds "$OUT/resnet18-cifar10.pt" \
        --data synthetic:samples=50000,shape=3x32x32 --device cuda --time-budget 150 --no-cache --json \
        > "$OUT/time-to-answer-resnet18.json" 2> "$OUT/time-to-answer-resnet18.err" || echo "FAILED: time to answer (exit $?)"
    python3 benchmarks/gpu_checks_report.py answer "$OUT/time-to-answer-resnet18.json" 2>&1 | tee "$OUT/time-to-answer.txt"
fi
echo "gpu_checks: ${SECONDS} s in all; results under $OUT"
