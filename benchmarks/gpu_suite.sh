#!/usr/bin/env bash
# The GPU measurements of issue 10 in one prepared run (about 7-9 minutes on an H100/H200):
#
#   1. training throughput of the FULL recipes (guided learning, CRNN mean teacher), features
#      kept on the GPU, fp32 and bf16-mixed (clips/s of 50 timed steps after 5 warm-up steps);
#   2. a profile of the full guided-learning recipe's steps (cProfile: Python / Lightning time per
#      step; torch.profiler: kernels, host->device copies), bf16-mixed;
#   3. epoch time WITH validation: one DESED-size epoch (18,035 random clips) plus a 1,168-clip
#      validation pass, both systems, bf16-mixed (2 epochs; the second is the one to quote);
#   4. jointsed predict of a 10-minute file on the GPU, fp32 and --precision bf16 (~1 min).
#
#   OUT=/path/to/results bash benchmarks/gpu_suite.sh        # default OUT: benchmarks/results/gpu
#
# Run from the repository root, in an environment where `import jointsed` works with a CUDA
# torch. Every step has its own time limit and a failing step does not stop the others; each
# writes its JSON (date, command, device, torch/CUDA versions, load average) under $OUT, and
# $OUT/suite.log holds everything printed. Quote the JSON with its command (benchmarks/README.md).
set -u
OUT="${OUT:-benchmarks/results/gpu}"
mkdir -p "$OUT"
LOG="$OUT/suite.log"
PY="${PYTHON:-python}"
BENCH="benchmarks/train_throughput.py"
COMMON=(--accelerator gpu --on-accelerator --recipes full)

step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    echo "=== $name ($(date -u +%H:%M:%S), limit ${limit}s): $*" | tee -a "$LOG"
    local start=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$LOG"
}

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || true
    "$PY" -c "import torch, lightning; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'lightning', lightning.__version__, 'gpus', torch.cuda.device_count())"
} 2>&1 | tee "$OUT/env.txt" | tee -a "$LOG"

step "throughput fp32" 150 "$PY" "$BENCH" "${COMMON[@]}" --precision 32-true \
    --out "$OUT/train_throughput_gpu_fp32.json"
step "throughput bf16-mixed" 150 "$PY" "$BENCH" "${COMMON[@]}" --precision bf16-mixed \
    --out "$OUT/train_throughput_gpu_bf16mixed.json"
step "profile guided learning bf16-mixed" 120 "$PY" "$BENCH" "${COMMON[@]}" --precision bf16-mixed \
    --systems guided_learning --steps 30 --profile "$OUT/profile_gpu" --out "$OUT/profile_gpu.json"
step "epoch with validation bf16-mixed" 240 "$PY" "$BENCH" "${COMMON[@]}" --precision bf16-mixed \
    --epoch --epochs 2 --out "$OUT/epoch_gpu_bf16mixed.json"

step "predict on the GPU" 120 "$PY" benchmarks/predict_speed.py --device cuda --no-reference --repeats 2 \
    --out "$OUT/predict_speed_gpu.json"

echo "results in $OUT:" | tee -a "$LOG"
ls -l "$OUT" | tee -a "$LOG"
