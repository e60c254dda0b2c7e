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
#      run does not fit one 10-minute call: 22.1 s an HVP on an H100, docs/benchmarks.md §4),
#      TF32 off (its TF32-on run, 5.6 s an HVP, was measured on 2026-12-06);
#   3. time to answer: `prunelimit bounds` with its defaults (adaptive SLQ, curvature on a
#      class-balanced 8,192-sample subset) on a CIFAR-sized ResNet-18 over 50,000 synthetic
#      samples, within a 120 s time budget, twice: with torch's float switches as they come
#      (cuDNN convolutions in TF32) and with NVIDIA_TF32_OVERRIDE=0 (IEEE float32 throughout);
#      their JSON says the HVPs, ρ* ± and its parts (the rounding part among them), and what
#      stopped each. On 2026-12-06 the first, at 150 s, stated a rounding part of 0.32.
# DEVICES=cpu runs part 1 on the CPU alone (how it is checked without a GPU).
#
# Every command has a timeout drawn from one clock, TOTAL seconds (default 540) for the
# whole script, each command's share capped and the later parts' caps kept back, so the
# script ends inside the device tool's 600 s call with margin whatever hangs; a part that
# fails or is cut short says so and the next still runs. Caps: part 1 what the later parts
# leave (100 s; its six runs' own seconds summed to 20.5 s on the H100 machine), part 2 90 s (the Lanczos steps stop
# 45 s before, leaving start-up, data and the operator's build their share), the
# checkpoint 30 s, part 3 160 s each (its 120 s budget, start-up and the checks after).
set -uo pipefail
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT="${OUT:-/tmp/gpu-checks}"
DEVICES="${DEVICES:-cpu cuda}"
STEPS="${STEPS:-8}"
TOTAL="${TOTAL:-540}"
mkdir -p "$OUT"

# seconds for a command: at most $1, leaving $2 for the parts after it (at least 1)
share() { local left=$((TOTAL - SECONDS - $2)); (( left > $1 )) && left=$1; (( left < 1 )) && left=1; echo "$left"; }
# part 3's run, as $OUT/$1.*, leaving $2 seconds for what follows (GNU time's resource report
# where the machine has it)
time_to_answer() {
    local timed=()
    [[ -x /usr/bin/time ]] && timed=(/usr/bin/time -v -o "$OUT/$1.time")
    ${timed[@]+"${timed[@]}"} timeout "$(share 160 "$2")" python3 -m prunelimit bounds "$OUT/resnet18-cifar10.pt" \
        --data synthetic:samples=50000,shape=3x32x32 --device cuda --time-budget 120 --no-cache --json \
        > "$OUT/$1.json" 2> "$OUT/$1.err" || echo "FAILED: $1 (exit $?)"
    python3 benchmarks/gpu_checks_report.py answer "$OUT/$1.json" 2>&1 | tee "$OUT/$1.txt"
}
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
    budget=$(share 90 350)
    timeout "$budget" python3 benchmarks/bench_gpu_resnet18.py --device cuda --steps "$STEPS" --time-limit $((budget - 45)) \
        2>&1 | tee "$OUT/resnet18.txt" || echo "FAILED: resnet18 (exit $?)"
    timeout "$(share 30 320)" python3 - "$OUT/resnet18-cifar10.pt" <<'PY' 2>&1 | tee "$OUT/checkpoint.txt"
import sys, torch
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.spec import build_model
torch.manual_seed(0)
save_checkpoint(sys.argv[1], "resnet18-cifar:num_classes=10", build_model("resnet18-cifar:num_classes=10").state_dict())
PY
    [[ -s "$OUT/resnet18-cifar10.pt" ]] || echo "FAILED: the ResNet-18 checkpoint"
    # torch's float switches as they come (cuDNN convolutions in TF32), then TF32 off beneath them
    time_to_answer time-to-answer-resnet18 160
    NVIDIA_TF32_OVERRIDE=0 time_to_answer time-to-answer-resnet18-ieee 0
fi
echo "gpu_checks: ${SECONDS} s in all; results under $OUT"
