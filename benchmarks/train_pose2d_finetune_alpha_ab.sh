#!/usr/bin/env bash
# Issue 8: does the structure-aware loss (Eq. 2, alpha 0.5) help the bundled encoder model, or cost it? The encoder
# ladder (train_pose2d_encoder_ladder.sh) lost about 6 points PCK@0.2 when it was switched on at 200 steps from
# ImageNet. Here, at the budget of one fine-tune, two continuations of the bundled model run side by side (one
# thread each, same seed, same data order, same schedule): alpha = 0 (Eq. 1 only) and alpha = 0.5 (the recipe so
# far, the control). Each is then scored on LSPET val with annotated windows (flip test).
#   bash benchmarks/train_pose2d_finetune_alpha_ab.sh          # STEPS (340), TIME_LIMIT (2100 s), SEED (1)
# Logs: benchmarks/logs/train_pose2d_ft_alpha{0,0.5}.log; results: benchmarks/results/pose2d_ft_alpha{0,0.5}.json;
# weights: runs/pose2d/ft_alpha{0,0.5}/model.safetensors. Re-running resumes unfinished trainings.
set -euo pipefail
STEPS=${STEPS:-340}
TIME_LIMIT=${TIME_LIMIT:-2100}
SEED=${SEED:-1}
export OMP_NUM_THREADS=1
mkdir -p benchmarks/logs benchmarks/results
one() {  # alpha
  local out=runs/pose2d/ft_alpha$1 tag=ft_alpha$1
  [ -f "$out/model.safetensors" ] || /usr/bin/time -v structnet train pose2d --config encoder_lite0_lspet_cpu_finetune \
    --threads 1 loss.alpha="$1" train.seed="$SEED" train.max_iters="$STEPS" train.time_limit="$TIME_LIMIT" \
    train.out_dir="$out" train.progress_bar=false > "benchmarks/logs/train_pose2d_$tag.log" 2>&1
  [ -f "benchmarks/results/pose2d_$tag.json" ] || structnet eval pose2d --weights "$out/model.safetensors" \
    --window annotation --quiet --threads 1 --json "benchmarks/results/pose2d_$tag.json" \
    > "benchmarks/logs/eval_pose2d_$tag.log" 2>&1
}
one 0 & a=$!
one 0.5 & b=$!
wait $a
wait $b
