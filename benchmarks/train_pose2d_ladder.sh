#!/usr/bin/env bash
# The ablation ladder of Ke et al. 2018 (Sec. 4.3) under one CPU budget on LSP-extended: plain hourglass ->
# +MSS -> +MSR -> +structure-aware loss -> +keypoint masking (configs/pose2d/ladder_lspet_cpu_*.yaml: 2 stacks of
# width 128, 3000 steps of batch 8 each; the five files differ only in those switches), then each rung's
# PCK@0.2 (torso, LSP protocol) per joint, mean and AUC on LSPET val (1000 persons), flip test on.
# Takes about 8 hours on 2 CPU cores (measured: 1.65 s/step for rung 1, 2.2 s/step for rung 5 at batch 8, so
# 1.4-1.9 h per rung). Run from the repository root: bash benchmarks/train_pose2d_ladder.sh
# Logs: benchmarks/logs/train_pose2d_<rung>.log; results: benchmarks/results/pose2d_ladder_<rung>.json.
# An interrupted run resumes: each training continues from its newest checkpoint.
set -euo pipefail
mkdir -p benchmarks/logs benchmarks/results
for rung in 1_hourglass 2_mss 3_msr 4_struct 5_masking; do
  /usr/bin/time -v structnet train pose2d --config configs/pose2d/ladder_lspet_cpu_${rung}.yaml \
    train.progress_bar=false > benchmarks/logs/train_pose2d_${rung}.log 2>&1
done
for rung in 1_hourglass 2_mss 3_msr 4_struct 5_masking; do
  structnet eval pose2d --weights runs/pose2d/ladder_lspet_cpu/${rung}/model.safetensors \
    --config configs/pose2d/ladder_lspet_cpu_${rung}.yaml --json benchmarks/results/pose2d_ladder_${rung}.json \
    > benchmarks/logs/eval_pose2d_${rung}.log 2>&1
done
