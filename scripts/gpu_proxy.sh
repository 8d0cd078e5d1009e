#!/usr/bin/env bash
# The proxy comparison of docs/results.md on ONE GPU, as one prepared run sized for ~9 minutes of
# GPU wall time at today's measured training speed (~1,000 clips/s for the full GL recipe):
#
#   bash scripts/gpu_proxy.sh [OUT (default runs/proxy)] [EPOCHS (default 20)]
#
# `jointsed synth --preset proxy` (500 weak, 500 strong, 1,000 unlabelled, 1,168 validation and
# 692 held-out eval clips on DESED's public-evaluation layouts), then the full-size
# dcase2019/* recipes: GL baseline and joint with 3 seeds each, CRNN mean teacher, joint
# without DFD and joint without AFL with one seed, EPOCHS epochs each (two-stage systems:
# EPOCHS - 5 + 5; frame teacher EPOCHS), post-processing tuned on the validation split, scored on
# the held-out split. Writes results/proxy.json (preset, device, budget per system, per-seed
# metrics) and prints the table for docs/results.md. Lower EPOCHS if the speed issue has not
# landed on the GPU you have; finished runs are reused when it is run again.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/proxy}"
EPOCHS="${2:-20}"
python scripts/compare.py --out "$OUT" --preset proxy --recipes dcase2019 --device gpu --jobs 3 \
    --seeds 42 43 44 --ablation-seeds 42 --epochs "$EPOCHS" --stage2-epochs 5 --teacher-epochs "$EPOCHS" \
    --set data.on_accelerator=true --set trainer.precision=bf16-mixed --json results/proxy.json
