#!/usr/bin/env bash
# The ablation ladder of Ke et al. 2018 (Sec. 4.3) under one CPU budget on LSP-extended: plain hourglass ->
# +MSS -> +MSR -> +structure-aware loss -> +keypoint masking (benchmarks/configs/pose2d/ladder_lspet_cpu_{1..4}_*.yaml and the packaged ladder_lspet_cpu_5_masking on
# ladder_lspet_cpu_base: 2 stacks of
# width 128, 128x128 input, 2000 steps of batch 8 each; the five files differ only in those switches), then each
# rung's PCK@0.2 (torso, LSP protocol) per joint, mean and AUC on LSPET val (1000 persons), flip test on.
# On 2 cores the rungs run as two chains side by side, one thread each (5,3,1 and 2,4): about 1.5 h in all.
# Run from the repository root: bash benchmarks/train_pose2d_ladder.sh
# Logs: benchmarks/logs/train_pose2d_<rung>.log; results: benchmarks/results/pose2d_ladder_<rung>.json.
# An interrupted run resumes: each training continues from its newest checkpoint.
set -euo pipefail
mkdir -p benchmarks/logs benchmarks/results
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
run_rung() {
  local rung=$1
  local config=benchmarks/configs/pose2d/ladder_lspet_cpu_${rung}.yaml
  [ -f "$config" ] || config=ladder_lspet_cpu_${rung}   # rung 5 is packaged
  /usr/bin/time -v structnet train pose2d --config "$config" \
    train.progress_bar=false > benchmarks/logs/train_pose2d_${rung}.log 2>&1
  structnet eval pose2d --weights runs/pose2d/ladder_lspet_cpu/${rung}/model.safetensors \
    --config "$config" --json benchmarks/results/pose2d_ladder_${rung}.json \
    > benchmarks/logs/eval_pose2d_${rung}.log 2>&1
}
chain() { for rung in "$@"; do run_rung "$rung"; done; }
chain 5_masking 3_msr 1_hourglass &
a=$!
chain 2_mss 4_struct &
b=$!
wait $a
wait $b
