#!/usr/bin/env bash
# Trains the baselines, the joint framework and its ablations with the same data, seed and epoch
# budget, tunes post-processing on the training dataset's validation split, and scores every system
# on a HELD-OUT test set (another synthesized dataset, other seed: other clips and layouts), before
# and after tuning. Writes OUT/results.json and prints the table used in docs/results.md.
#
#   bash scripts/ablation.sh [OUT (default runs/ablation)] [PRESET (default demo)] [EPOCHS (default 20)]
#
# Everything runs on the CPU; runs already finished in OUT are reused.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup_env.sh"
OUT="${1:-runs/ablation}"
PRESET="${2:-demo}"
EPOCHS="${3:-20}"          # total training epochs of every system (joint: stage 1 + stage 2)
STAGE2=5                   # epochs of stage 2 (adaptive focal loss) in the two-stage systems
mkdir -p "$OUT"
DATA="$OUT/data"; TEST="$OUT/test_data"
[ -f "$DATA/synth.json" ] || jointsed synth --preset "$PRESET" --seed 0 --out "$DATA" --no-progress
[ -f "$TEST/synth.json" ] || jointsed synth --preset "$PRESET" --seed 1 --out "$TEST" --no-progress \
    --n-weak 1 --n-synthetic 1 --n-unlabelled 1
TEST_ARGS=(--tsv "$TEST/metadata/validation/validation.tsv" --audio "$TEST/audio/validation"
           --durations "$TEST/metadata/validation/validation_durations.tsv")

# name  recipe  extra overrides (same epoch budget for all)
systems=(
  "gl_baseline|cpu/gl_baseline.yaml|--set trainer.max_epochs=$EPOCHS"
  "crnn_mean_teacher|cpu/crnn_mean_teacher.yaml|--set trainer.max_epochs=$EPOCHS"
  "joint|cpu/joint.yaml|--set trainer.max_epochs=$((EPOCHS - STAGE2)) --set joint.two_stage.epochs=$STAGE2"
  "joint_no_dfd|cpu/joint_no_dfd.yaml|--set trainer.max_epochs=$((EPOCHS - STAGE2)) --set joint.two_stage.epochs=$STAGE2"
  "joint_no_afl|cpu/joint_no_afl.yaml|--set trainer.max_epochs=$EPOCHS"
)
train_one() {  # name recipe overrides...
  local name=$1 recipe=$2; shift 2
  local run="$OUT/$name" start
  start=$(date +%s)
  [ -f "$run/metrics.json" ] || jointsed train "$ROOT/recipes/$recipe" --data-root "$DATA" --out "$run" \
      --no-progress --set trainer.num_threads=1 "$@" > "$OUT/$name.train.log" 2>&1
  echo "[ablation] $name trained in $(( $(date +%s) - start )) s"
}
# Features once, before the parallel trainings share the cache.
jointsed features "$DATA/audio" --cache "$DATA/.jointsed_cache/features" --no-progress
# JOBS trainings at a time (one torch thread each): the whole comparison fits a 2-core machine.
JOBS="${JOBS:-2}"
for entry in "${systems[@]}"; do
  IFS='|' read -r name recipe overrides <<< "$entry"
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  # shellcheck disable=SC2086
  train_one "$name" "$recipe" $overrides &
done
wait
for entry in "${systems[@]}"; do
  IFS='|' read -r name recipe overrides <<< "$entry"
  run="$OUT/$name"
  [ -f "$run/metrics.json" ] || { echo "[ablation] $name did not finish: see $OUT/$name.train.log" >&2; exit 1; }
  # Lin's default post-processing (no postprocess.json beside the run), scored on the held-out test set
  if [ ! -f "$run/eval/test_default/metrics.json" ]; then
    [ -f "$run/postprocess.json" ] && mv "$run/postprocess.json" "$run/postprocess.json.tuned"
    jointsed evaluate --run "$run" --data-root "$DATA" --split test_default "${TEST_ARGS[@]}" --no-progress > /dev/null
    [ -f "$run/postprocess.json.tuned" ] && mv "$run/postprocess.json.tuned" "$run/postprocess.json"
  fi
  # event-specific post-processing tuned on the training dataset's validation split, then scored
  [ -f "$run/postprocess.json" ] || jointsed tune "$run" --data-root "$DATA" --no-progress > /dev/null
  [ -f "$run/eval/test_tuned/metrics.json" ] || jointsed evaluate --run "$run" --data-root "$DATA" \
      --split test_tuned "${TEST_ARGS[@]}" --no-progress > /dev/null
  echo "[ablation] $name evaluated"
done
python "$ROOT/scripts/results_table.py" "$OUT"
